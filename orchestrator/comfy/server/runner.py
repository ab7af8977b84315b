"""The one thread that runs queued prompts, turning executor callbacks into websocket frames.

Per prompt, frames follow ComfyUI's order: `status` (taken off the queue),
`execution_start`, `execution_cached`, then per node `progress_state` (running),
`executing`, ticks (`progress_state` + `progress`), `executed` for nodes with UI
output, `progress_state` (finished); then `execution_success`, `execution_error`
or `execution_interrupted`; `status` (done); and finally `executing {node: null}`
once the history entry is written.

Addressing follows ComfyUI: `status` goes to every socket; everything else goes
to the submitting client id. A prompt without a client id sends nothing but
`progress`, `progress_state` and `execution_interrupted`, and those to every
socket (ComfyUI sends to "the current client id", and an unset id broadcasts).
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from comfy_nodes import host
from comfy_nodes.accel import context_parallel
from orchestrator.executor import ExecutionFailed, ExecutionHooks, ExecutionInterrupted, Executor

from . import messages
from .history import History, make_entry
from .messages import MessageBus, ProgressStates
from .queue import PromptQueue, QueueItem
from .ranks import Leader

log = logging.getLogger(__name__)

# How often an idle runner looks at its stop flag.
IDLE_POLL_S = 0.5


class _PromptRun(ExecutionHooks):
    """Frames and history for one prompt."""

    def __init__(self, runner: Runner, item: QueueItem) -> None:
        self.runner = runner
        self.item = item
        self.prompt_id = item.prompt_id
        self.client_id: str | None = item.extra_data.get("client_id")
        self.progress = ProgressStates(item.prompt_id)
        self.status_messages: list[list[Any]] = []
        self.outputs: dict[str, Any] = {}
        self.meta: dict[str, Any] = {}
        self.current: str | None = None

    # ------------------------------------------------------------ sending

    def _send(self, event: str, data: dict[str, Any]) -> None:
        if self.client_id is not None:
            self.runner.bus.send(event, data, self.client_id)

    def _add_message(self, event: str, data: dict[str, Any], broadcast: bool = False) -> None:
        """A lifecycle event: recorded in the history status and sent with a timestamp."""
        data = {**data, "timestamp": messages.now_ms()}
        self.status_messages.append([event, data])
        if self.client_id is not None or broadcast:
            # As ComfyUI: addressed to the submitting client; "broadcast" events also go
            # out (to everyone) when the prompt has no client id.
            self.runner.bus.send(event, data, self.client_id)

    def _progress_state(self, snapshot: dict[str, Any]) -> None:
        self.runner.bus.send("progress_state", snapshot, self.client_id)

    def _finish_current(self) -> None:
        if self.current is not None:
            self._progress_state(self.progress.finish(self.current))
            self.current = None

    # ------------------------------------------------------------ executor hooks

    def on_start(self, prompt_id: str) -> None:
        self._add_message("execution_start", {"prompt_id": prompt_id})

    def on_cached(self, prompt_id: str, node_ids: list[str]) -> None:
        self._add_message("execution_cached", {"nodes": list(node_ids), "prompt_id": prompt_id})

    def on_executing(self, prompt_id: str, node_id: str, class_type: str) -> None:
        self._finish_current()
        self.current = node_id
        self.runner.last_node_id = node_id
        self._progress_state(self.progress.start(node_id))
        self._send("executing", messages.executing_data(node_id, prompt_id))

    def on_progress(self, prompt_id: str, node_id: str, value: int, total: int) -> None:
        self._progress_state(self.progress.update(node_id, value, total))
        # Like ComfyUI's progress hook: addressed to the prompt's client, or to everyone when it has none.
        self.runner.bus.send("progress", messages.progress_data(node_id, value, total, prompt_id), self.client_id)

    def on_executed(self, prompt_id: str, node_id: str, ui: dict[str, Any] | None) -> None:
        if ui:
            self.outputs[node_id] = ui
            self.meta[node_id] = messages.node_meta(node_id)
        if node_id == self.current:
            if ui:  # ComfyUI reports a node that ran only when it has UI output
                self._send("executed", messages.executed_data(node_id, ui, prompt_id))
            return
        # A cached output node: the node before it is done, and this one is reported finished at once.
        self._finish_current()
        self._send("executed", messages.executed_data(node_id, ui, prompt_id))
        self._progress_state(self.progress.finish(node_id))

    # ------------------------------------------------------------ endings

    def succeeded(self, result_outputs: dict[str, Any]) -> dict[str, Any]:
        self._finish_current()
        for node_id, ui in result_outputs.items():
            if ui and node_id not in self.outputs:
                self.outputs[node_id] = ui
                self.meta[node_id] = messages.node_meta(node_id)
        self._add_message("execution_success", {"prompt_id": self.prompt_id})
        return self._entry("success", True)

    def failed(self, exc: ExecutionFailed) -> dict[str, Any]:
        self._add_message(
            "execution_error",
            {
                "prompt_id": self.prompt_id,
                "node_id": exc.node_id,
                "node_type": exc.node_type,
                "executed": list(exc.executed),
                "exception_message": exc.exception_message,
                "exception_type": exc.exception_type,
                "traceback": list(exc.traceback),
                "current_inputs": exc.current_inputs,
                "current_outputs": list(exc.executed),
            },
        )
        return self._entry("error", False)

    def crashed(self, exc: Exception) -> dict[str, Any]:
        """The executor itself raised: report it like a node error on the current node."""
        node_id = self.current
        node_type = self.item.prompt.get(node_id, {}).get("class_type") if node_id else None
        self._add_message(
            "execution_error",
            {
                "prompt_id": self.prompt_id,
                "node_id": node_id,
                "node_type": node_type,
                "executed": [],
                "exception_message": str(exc),
                "exception_type": type(exc).__qualname__,
                "traceback": traceback.format_tb(exc.__traceback__),
                "current_inputs": {},
                "current_outputs": list(self.outputs),
            },
        )
        return self._entry("error", False)

    def interrupted(self, exc: ExecutionInterrupted) -> dict[str, Any]:
        self._add_message(
            "execution_interrupted",
            {
                "prompt_id": self.prompt_id,
                "node_id": exc.node_id,
                "node_type": exc.node_type,
                "executed": list(exc.executed),
            },
            broadcast=True,
        )
        return self._entry("error", False)

    def _entry(self, status_str: str, completed: bool) -> dict[str, Any]:
        return make_entry(self.item.public(), self.outputs, self.meta, status_str, completed, self.status_messages)


class Runner:
    """Takes prompts off the queue one at a time and runs them with one Executor,
    so node outputs stay cached between prompts."""

    def __init__(
        self,
        queue: PromptQueue,
        history: History,
        bus: MessageBus,
        executor_factory: Callable[[], Executor],
        leader: Leader | None = None,
    ) -> None:
        self.queue = queue
        self.leader = leader  # the other ranks' lead when this server spans several GPUs (ranks.py)
        self.history = history
        self.bus = bus
        self._executor_factory = executor_factory
        self.executor = executor_factory()
        self.client_id: str | None = None
        self.last_node_id: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="wan-i2v-server-runner", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Interrupt the running prompt and wait for the thread to end."""
        self._stop.set()
        if self.queue.running is not None:
            host.request_interrupt()
        self.queue.wake()
        if self._thread is not None:
            self._thread.join(timeout)

    def interrupt(self, prompt_id: str | None = None) -> bool:
        """Interrupt the running prompt; with `prompt_id`, only if that one is running.

        The check and the flag happen under the queue lock, and the flag is cleared under
        the same lock when the next prompt is taken: a targeted interrupt can neither hit
        the next prompt nor be lost, and one sent while nothing runs interrupts nothing later."""
        return self.queue.if_running(prompt_id, host.request_interrupt)

    def _loop(self) -> None:
        while not self._stop.is_set():
            item = self.queue.get(timeout=IDLE_POLL_S, on_take=lambda _: host.clear_interrupt())
            if item is not None:
                self._run(item)
            self._apply_flags(self.queue.take_flags())
        if self.leader is not None:
            self._tell_followers(self.leader.stop)

    def _tell_followers(self, message: Callable[[], None]) -> None:
        if self.leader is None or self.leader.lost is not None:
            return
        try:
            message()
        except Exception as exc:  # a follower is gone or stuck: this server stops, and the launcher every rank
            log.error("the other ranks are out of step (%s); stopping", exc)
            self.leader.lost = str(exc)
            self._stop.set()
            signal.raise_signal(signal.SIGTERM)  # the HTTP side goes down as on `kill`; the CLI exits non-zero

    def _run(self, item: QueueItem) -> None:
        run = _PromptRun(self, item)
        self.client_id = run.client_id
        started = time.perf_counter()
        try:
            extra_data = {**item.extra_data, **item.sensitive}
            if self.leader is not None:
                self.leader.run(item.validated, item.prompt_id, extra_data)
            # The flag was cleared when the item was taken; clearing it again here would lose
            # an interrupt sent in between.
            result = self.executor.execute(item.validated, item.prompt_id, run, extra_data=extra_data, clear_interrupt=False)
            entry = run.succeeded(result.outputs)
            log.info(
                "prompt %s done in %.2f s (%d nodes run, %d cached)",
                item.prompt_id, time.perf_counter() - started, len(result.executed), len(result.cached),
            )  # fmt: skip
        except ExecutionInterrupted as exc:
            log.info("prompt %s interrupted at node %s", item.prompt_id, exc.node_id)
            entry = run.interrupted(exc)
        except ExecutionFailed as exc:
            log.warning("prompt %s failed: %s", item.prompt_id, exc)
            entry = run.failed(exc)
        except Exception as exc:
            log.exception("prompt %s crashed the executor", item.prompt_id)
            entry = run.crashed(exc)
        self.last_node_id = None
        self.queue.task_done(after=lambda: self.history.add(item.prompt_id, entry))
        if run.client_id is not None:
            self.bus.send("executing", messages.executing_data(None, item.prompt_id), run.client_id)
        self.client_id = None
        if self.leader is not None:  # after the history entry: clients need not wait for the followers
            failed_inside_pass = context_parallel.failed_inside_pass()
            self._tell_followers(lambda: self.leader.end(failed_inside_pass))

    def _apply_flags(self, flags: dict[str, bool]) -> None:
        """POST /free: drop cached outputs (and with them loaded models), then collect."""
        if not flags:
            return
        if flags.get("unload_models") or flags.get("free_memory"):
            self.executor = self._executor_factory()
            if self.leader is not None:
                self._tell_followers(self.leader.free)
            gc.collect()
            host.soft_empty_cache()

"""Interrupt races in the embedded server's runner: an interrupt is never lost and never hits the next prompt."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import server_protocol_checks as checks
import server_protocol_nodes

from comfy_nodes import host
from orchestrator.comfy.server.history import History
from orchestrator.comfy.server.messages import MessageBus
from orchestrator.comfy.server.queue import PromptQueue, QueueItem
from orchestrator.comfy.server.runner import Runner
from orchestrator.executor import Executor, validate_prompt

NODES = server_protocol_nodes.NODE_CLASS_MAPPINGS


class GatedExecutor(Executor):
    """Holds the gated prompt between being taken off the queue and running."""

    def __init__(self, gated: str) -> None:
        super().__init__(NODES)
        self.gated = gated
        self.taken = threading.Event()
        self.proceed = threading.Event()

    def execute(self, validated: Any, prompt_id: str, hooks: Any = None, **kwargs: Any) -> Any:
        if prompt_id == self.gated:
            self.taken.set()
            assert self.proceed.wait(10)
        return super().execute(validated, prompt_id, hooks, **kwargs)


def _item(prompt_id: str, number: float, steps: int = 3, delay: float = 0.0) -> QueueItem:
    prompt = checks.chain(checks.unique_value(), steps=steps, delay=delay, prefix=f"race/{prompt_id}")
    validated = validate_prompt(prompt, NODES)
    return QueueItem(number, prompt_id, prompt, {}, list(validated.outputs), {}, validated)


def _status(history: History, prompt_id: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entry = history.get(prompt_id).get(prompt_id)
        if entry:
            events = [m[0] for m in entry["status"]["messages"]]
            return "interrupted" if "execution_interrupted" in events else entry["status"]["status_str"]
        time.sleep(0.02)
    raise AssertionError(f"{prompt_id} did not finish")


@pytest.fixture
def runner_parts(host_dirs: dict[str, Any]):
    made: list[Runner] = []

    def make(executor: Executor) -> tuple[PromptQueue, History, Runner]:
        queue, history = PromptQueue(), History(100)
        runner = Runner(queue, history, MessageBus(), lambda: executor)
        made.append(runner)
        return queue, history, runner

    yield make
    for runner in made:
        runner.stop()
    host.clear_interrupt()


def test_an_interrupt_sent_after_the_prompt_is_taken_but_before_it_runs_is_not_lost(runner_parts) -> None:
    executor = GatedExecutor("x")
    queue, history, runner = runner_parts(executor)
    queue.put(_item("x", 0, steps=20, delay=0.01))
    runner.start()
    assert executor.taken.wait(10)
    assert runner.interrupt("x") is True  # x is the running prompt, not yet executing
    executor.proceed.set()
    assert _status(history, "x") == "interrupted"


def test_a_targeted_interrupt_never_hits_the_next_prompt(runner_parts, monkeypatch: pytest.MonkeyPatch) -> None:
    executor = GatedExecutor("x")
    queue, history, runner = runner_parts(executor)
    queue.put(_item("x", 0, steps=1))
    queue.put(_item("y", 1, steps=30, delay=0.01))
    real_request = host.request_interrupt

    def slow_request() -> None:
        # The interrupt was checked against x; x now finishes. Give y every chance to start
        # before the flag is set: only holding the queue lock across check and set keeps y safe.
        executor.proceed.set()
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and (queue.running is None or queue.running.prompt_id != "y"):
            time.sleep(0.01)
        time.sleep(0.1)
        real_request()

    monkeypatch.setattr(host, "request_interrupt", slow_request)
    runner.start()
    assert executor.taken.wait(10)
    assert runner.interrupt("x") is True
    assert _status(history, "x") == "success"  # it had finished its work before the flag was set
    assert _status(history, "y") == "success"


def test_an_interrupt_while_idle_interrupts_nothing_later(runner_parts) -> None:
    queue, history, runner = runner_parts(Executor(NODES))
    runner.start()
    assert runner.interrupt() is True  # a global interrupt with nothing running
    queue.put(_item("later", 0, steps=5, delay=0.01))
    assert _status(history, "later") == "success"
    assert runner.interrupt("not-running") is False

"""One embedded server on N GPUs: rank 0 serves and runs prompts, ranks 1..N-1 follow it.

Every rank runs each prompt's samplers with its own executor, so each sampler splits its
transformer passes over the ranks (context parallelism, docs/multi-gpu.md). The followers build
the sampler's model themselves; rank 0 alone runs the encoders and sends their embeddings, and
runs what comes after the samplers (decode, save; orchestrator/executor/followers.py). Rank 0
leads over a gloo group of its own: it sends each prompt, `/free` and the stop to the
followers, a split sampler's inputs, the word "pass" before every split transformer pass, and
"sampled" when a split sampler has ended well (so its result is cached on every rank or none).
After each prompt, whatever its ending, it sends "end". A follower that is mid-sampling when "end" comes stops
that prompt like an interrupt. So an interrupt or a failure on rank 0 never leaves a
follower waiting in an exchange that rank 0 will not join. A follower that falls out of step
(it failed where rank 0 did not) exits, and the launcher then stops every rank: the server
goes down rather than hanging. After a failure inside a split pass, the ranks give each other
`settle_seconds()` to end the prompt too; a rank left waiting in that pass's exchange cannot,
and then the server goes down the same way.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from comfy_nodes import host
from comfy_nodes.accel import context_parallel
from comfy_nodes.errors import Interrupted
from orchestrator.executor import ExecutionFailed, ExecutionInterrupted, Executor, ValidatedPrompt
from orchestrator.executor.followers import followers_part

from orchestrator.errors import OrchestratorError

log = logging.getLogger(__name__)

# The followers wait for the next prompt as long as the server runs, so the control group's
# exchanges must not time out while the server is idle.
IDLE_TIMEOUT = timedelta(days=365)
# After a failure inside a split pass, how long the ranks wait for each other to end the prompt
# before they take the group for broken (one of them waits in that pass's exchange) and stop.
SETTLE_ENV = "WAN_I2V_CP_SETTLE_S"
SETTLE_S = 60.0


def settle_seconds() -> float:
    return float(os.environ.get(SETTLE_ENV) or SETTLE_S)


class RankOutOfStep(OrchestratorError):
    """A follower was told something that does not fit where it is in the prompt."""


def _within(seconds: float, exchange: Callable[[], Any], what: str) -> Any:
    """`exchange()` (a control-group call) or RankOutOfStep when it has not returned in time.

    It runs in a thread of its own: a call that never returns is left behind, as the rank stops."""
    result: list[Any] = []
    error: list[Exception] = []

    def call() -> None:
        try:
            result.append(exchange())
        except Exception as exc:  # a rank that exited closes the channel
            error.append(exc)

    thread = threading.Thread(target=call, name="wan-i2v-rank-settle", daemon=True)
    thread.start()
    thread.join(seconds)
    if error:
        raise RankOutOfStep(f"{what} after a failure inside a split transformer pass: {error[0]}")
    if not result:
        raise RankOutOfStep(f"{what} within {seconds:g} s after a failure inside a split transformer pass; "
                            "a rank is likely still waiting in that pass's exchange")  # fmt: skip
    return result[0]


def control_group() -> Any:
    """The leader's own channel to the followers (every rank calls this once, after joining)."""
    import torch.distributed as dist

    return dist.new_group(backend="gloo", timeout=IDLE_TIMEOUT)


class Leader:
    """Rank 0's side: tells the followers what to run and when each pass may start."""

    def __init__(self, group: Any) -> None:
        self.group = group
        # Why the followers are out of step, once they are (set by the runner, which then tells them nothing more).
        self.lost: str | None = None

    def _send(self, *message: Any) -> None:
        import torch.distributed as dist

        dist.broadcast_object_list([message], src=0, group=self.group)

    def _agree(self, word: str, payload: Any) -> Any:
        self._send(word, payload)
        return payload

    def run(self, validated: Any, prompt_id: str, extra_data: Mapping[str, Any]) -> None:
        context_parallel.set_agreement(self._agree)
        self._send("run", validated, prompt_id, dict(extra_data))

    def end(self, failed_inside_pass: bool = False) -> None:
        """After every prompt rank 0 ran, whether it succeeded, failed or was interrupted.

        After a failure of its own inside a split pass, rank 0 also waits for every follower to
        end the prompt: one still waiting in that pass's exchange raises RankOutOfStep."""
        import torch.distributed as dist

        if not failed_inside_pass:
            self._send("end", False)
            return

        def settle() -> None:
            self._send("end", True)
            dist.barrier(group=self.group)

        _within(settle_seconds(), settle, "the other ranks did not end the prompt")

    def free(self) -> None:
        self._send("free")

    def stop(self) -> None:
        self._send("stop")


class Follower:
    """Ranks 1..N-1: run what rank 0 runs, quietly, until told to stop."""

    def __init__(self, group: Any, node_classes: Mapping[str, type], input_dir: Path) -> None:
        self.group = group
        self.node_classes = node_classes
        self.input_dir = input_dir
        self.executor = Executor(node_classes)
        self._ended = False  # whether "end" already came for the prompt being run
        self._settle = False  # whether that "end" asks every rank to show it is out of the prompt

    def _receive(self) -> tuple[Any, ...]:
        import torch.distributed as dist

        box: list[Any] = [None]
        dist.broadcast_object_list(box, src=0, group=self.group)
        return box[0]

    def _agree(self, word: str, payload: Any) -> Any:
        """Where rank 0 says `word` (context_parallel.set_agreement); returns what rank 0 sent with it."""
        message = self._receive()
        if message[0] == "end":  # rank 0 stopped this prompt before this point
            self._ended, self._settle = True, bool(message[1])
            raise Interrupted("rank 0 stopped the prompt")
        if message[0] != word:
            raise RankOutOfStep(f"told {message[0]!r} where rank 0 should say {word!r}")
        return message[1]

    def serve(self) -> None:
        """The follower's loop; returns on "stop", raises RankOutOfStep when out of step."""
        context_parallel.set_agreement(self._agree)
        with tempfile.TemporaryDirectory(prefix="wan-i2v-rank-") as scratch:
            # Same inputs as rank 0; what a node before a sampler saves goes to a scratch folder.
            host.set_io_dirs(input=self.input_dir, output=Path(scratch), temp=Path(scratch))
            while True:
                message = self._receive()
                if message[0] == "stop":
                    return
                if message[0] == "free":
                    self.executor = Executor(self.node_classes)
                    host.soft_empty_cache()
                elif message[0] == "run":
                    self._run(*message[1:])
                else:
                    raise RankOutOfStep(f"told {message[0]!r} between prompts")

    def _run(self, validated: ValidatedPrompt, prompt_id: str, extra_data: dict[str, Any]) -> None:
        import torch.distributed as dist

        self._ended, self._settle = False, False
        try:
            self.executor.execute(followers_part(validated, self.node_classes, inputs_sent=True), prompt_id, extra_data=extra_data)
        except ExecutionInterrupted:
            log.info("prompt %s stopped with rank 0", prompt_id)
        except ExecutionFailed as exc:
            log.warning("prompt %s failed on this rank: %s", prompt_id, exc)
        failed_inside_pass = context_parallel.failed_inside_pass()
        if not self._ended:
            # Failed inside a pass alone, this rank left rank 0 in that pass's exchange: no "end" comes.
            wait = settle_seconds() if failed_inside_pass else None
            message = self._receive() if wait is None else _within(wait, self._receive, "rank 0 did not end the prompt")
            if message[0] == "sampled":  # rank 0 got through that pass and its sampler: it waits in no exchange
                message = self._receive()
            if message[0] != "end":
                raise RankOutOfStep(f"rank 0 went on ({message[0]!r}) after this rank's prompt {prompt_id} ended")
            self._settle = bool(message[1])
        if self._settle:  # rank 0 failed inside a pass: it waits to see every rank out of it
            dist.barrier(group=self.group)

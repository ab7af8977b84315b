"""How rank 0 leads the other ranks of a split run through each sampler, over a gloo group of its own.

Every rank runs the same sampler, and its transformer passes exchange data between the ranks
(context_parallel.py). A rank that does not join a pass leaves the others waiting in its
exchange, which only a rank's exit ends. So rank 0 says, on a control group of its own, each
point the others may pass: "inputs" (the sampler's embeddings, which only rank 0 computes),
"pass" before every split pass, "sampled" when the sampler ended well (so its result exists on
every rank or on none), and "end" after the whole job, however it ended. A follower that is
still sampling when "end" comes stops like an interrupt, so an interrupt or a failure on rank 0
never leaves it in a pass alone. A follower told something else than it waits for is out of step.

After a failure inside a split pass, the ranks give each other `settle_seconds()` to end the
job too: rank 0 sends "end" and waits at a barrier of the control group; a follower waits for
that "end" (or for "sampled": rank 0 then got through the pass and waits in no exchange). A rank
left waiting in that pass's exchange cannot come, and the wait runs out (RankOutOfStep).

Users: the embedded server's ranks (orchestrator/comfy/server/ranks.py) and the helper ranks a
sampler starts inside a real ComfyUI (helper_ranks.py).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from ..errors import Interrupted, RankOutOfStep
from . import context_parallel

# The followers wait for the next job as long as rank 0 runs, so the control group's exchanges must
# not time out while it is idle.
IDLE_TIMEOUT = timedelta(days=365)
# After a failure inside a split pass, how long the ranks wait for each other to end the job before
# they take the group for broken (one of them waits in that pass's exchange).
SETTLE_ENV = "WAN_I2V_CP_SETTLE_S"
SETTLE_S = 60.0


def settle_seconds() -> float:
    return float(os.environ.get(SETTLE_ENV) or SETTLE_S)


def within(seconds: float, exchange: Callable[[], Any], what: str) -> Any:
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
    """Rank 0's own channel to the others (every rank calls this once, after joining the process group)."""
    import torch.distributed as dist

    return dist.new_group(backend="gloo", timeout=IDLE_TIMEOUT)


def leave(group: Any) -> None:
    """Every rank, last: all out of the control group's last exchange before any tears the process group
    down. A rank still receiving rank 0's last word when rank 0 (which holds the group's store) exits
    can abort in gloo's threads ("terminate called without an active exception")."""
    import torch.distributed as dist

    dist.barrier(group=group)


class Lead:
    """Rank 0's side."""

    def __init__(self, group: Any) -> None:
        self.group = group

    def send(self, *message: Any) -> None:
        import torch.distributed as dist

        dist.broadcast_object_list([message], src=0, group=self.group)

    def agree(self, word: str, payload: Any) -> Any:
        self.send(word, payload)
        return payload

    def begin(self, *job: Any) -> None:
        """Send the next job (a message the followers' loop understands) and lead its sampler."""
        context_parallel.set_agreement(self.agree)
        self.send(*job)

    def end(self, failed_inside_pass: bool = False) -> None:
        """After every job, whether it succeeded, failed or was interrupted.

        After a failure of its own inside a split pass, rank 0 also waits for every follower to end
        the job: one still waiting in that pass's exchange raises RankOutOfStep."""
        import torch.distributed as dist

        if not failed_inside_pass:
            self.send("end", False)
            return

        def settle() -> None:
            self.send("end", True)
            dist.barrier(group=self.group)

        within(settle_seconds(), settle, "the other ranks did not end the job")


class Follow:
    """A follower's side: what it receives, and how it ends each job."""

    def __init__(self, group: Any) -> None:
        self.group = group
        self._ended = False  # whether "end" already came for the job being run
        self._settle = False  # whether that "end" asks every rank to show it is out of the job

    def receive(self) -> tuple[Any, ...]:
        import torch.distributed as dist

        box: list[Any] = [None]
        dist.broadcast_object_list(box, src=0, group=self.group)
        return box[0]

    def agree(self, word: str, payload: Any) -> Any:
        """Where rank 0 says `word` (context_parallel.set_agreement); returns what rank 0 sent with it."""
        message = self.receive()
        if message[0] == "end":  # rank 0 stopped this job before this point
            self._ended, self._settle = True, bool(message[1])
            raise Interrupted("rank 0 stopped the job")
        if message[0] != word:
            raise RankOutOfStep(f"told {message[0]!r} where rank 0 should say {word!r}")
        return message[1]

    def start(self) -> None:
        """Before this rank runs its part of a job rank 0 sent."""
        context_parallel.set_agreement(self.agree)
        self._ended, self._settle = False, False

    def finish(self, job: str) -> None:
        """After this rank's part of `job`, however it ended: until rank 0's "end" (RankOutOfStep otherwise)."""
        import torch.distributed as dist

        failed_inside_pass = context_parallel.failed_inside_pass()
        if not self._ended:
            # Failed inside a pass alone, this rank left rank 0 in that pass's exchange: no "end" comes.
            wait = settle_seconds() if failed_inside_pass else None
            message = self.receive() if wait is None else within(wait, self.receive, "rank 0 did not end the job")
            if message[0] == "sampled":  # rank 0 got through that pass and its sampler: it waits in no exchange
                message = self.receive()
            if message[0] != "end":
                raise RankOutOfStep(f"rank 0 went on ({message[0]!r}) after this rank's {job} ended")
            self._settle = bool(message[1])
        if self._settle:  # rank 0 failed inside a pass: it waits to see every rank out of it
            dist.barrier(group=self.group)

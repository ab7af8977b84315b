"""One embedded server on N GPUs: rank 0 serves and runs prompts, ranks 1..N-1 follow it.

Every rank runs each prompt's samplers with its own executor, so each sampler splits its
transformer passes over the ranks (context parallelism, docs/multi-gpu.md). The followers build
the sampler's model themselves; rank 0 alone runs the encoders and sends their embeddings, and
runs what comes after the samplers (decode, save; orchestrator/executor/followers.py). How rank
0 leads each sampler, and how the ranks end each prompt, is comfy_nodes/accel/rank_lead.py; on
top of it rank 0 sends each prompt, `/free` and the stop. A follower that falls out of step (it
failed where rank 0 did not) exits, and the launcher then stops every rank: the server goes down
rather than hanging.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from comfy_nodes import host
from comfy_nodes.accel.rank_lead import Follow, Lead, RankOutOfStep, control_group, leave
from orchestrator.executor import ExecutionFailed, ExecutionInterrupted, Executor, ValidatedPrompt
from orchestrator.executor.followers import followers_part

__all__ = ["Follower", "Leader", "RankOutOfStep", "control_group"]

log = logging.getLogger(__name__)


class Leader(Lead):
    """Rank 0's side: tells the followers what to run and leads their samplers."""

    def __init__(self, group: Any) -> None:
        super().__init__(group)
        # Why the followers are out of step, once they are (set by the runner, which then tells them nothing more).
        self.lost: str | None = None

    def run(self, validated: ValidatedPrompt, prompt_id: str, extra_data: Mapping[str, Any]) -> None:
        self.begin("run", validated, prompt_id, dict(extra_data))

    def free(self) -> None:
        self.send("free")

    def stop(self) -> None:
        self.send("stop")
        leave(self.group)


class Follower(Follow):
    """Ranks 1..N-1: run their part of what rank 0 runs, quietly, until told to stop."""

    def __init__(self, group: Any, node_classes: Mapping[str, type], input_dir: Path) -> None:
        super().__init__(group)
        self.node_classes = node_classes
        self.input_dir = input_dir
        self.executor = Executor(node_classes)

    def serve(self) -> None:
        """The follower's loop; returns on "stop", raises RankOutOfStep when out of step."""
        with tempfile.TemporaryDirectory(prefix="wan-i2v-rank-") as scratch:
            # Same inputs as rank 0; what a node before a sampler saves goes to a scratch folder.
            host.set_io_dirs(input=self.input_dir, output=Path(scratch), temp=Path(scratch))
            while True:
                message = self.receive()
                if message[0] == "stop":
                    leave(self.group)
                    return
                if message[0] == "free":
                    self.executor = Executor(self.node_classes)
                    host.soft_empty_cache()
                elif message[0] == "run":
                    self._run(*message[1:])
                else:
                    raise RankOutOfStep(f"told {message[0]!r} between prompts")

    def _run(self, validated: ValidatedPrompt, prompt_id: str, extra_data: dict[str, Any]) -> None:
        self.start()
        try:
            self.executor.execute(followers_part(validated, self.node_classes, inputs_sent=True), prompt_id, extra_data=extra_data)
        except ExecutionInterrupted:
            log.info("prompt %s stopped with rank 0", prompt_id)
        except ExecutionFailed as exc:
            log.warning("prompt %s failed on this rank: %s", prompt_id, exc)
        self.finish(f"prompt {prompt_id}")

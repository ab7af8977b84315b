"""The seam between the scheduler and whatever runs a claimed attempt."""

from __future__ import annotations

from typing import Protocol


class Executor(Protocol):
    """Runs `drive(job_id, attempt)` on an instance: in this process (local) or on a worker (celery)."""

    async def start(self) -> None: ...

    async def submit(self, job_id: str, attempt: int, instance_id: str) -> None: ...

    async def stop(self) -> None: ...

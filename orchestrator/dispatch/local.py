"""The local executor: one asyncio task per attempt, in the orchestrator process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from .driver import Instance, drive

log = logging.getLogger(__name__)


class LocalExecutor:
    def __init__(self, store: Any, settings: Any, urls: Mapping[str, str], on_done: Callable[[], None] | None = None):
        self.store, self.settings = store, settings
        self.urls = dict(urls)  # instance id -> ComfyUI URL
        self.on_done = on_done
        self.tasks: set[asyncio.Task[str]] = set()

    async def start(self) -> None:
        pass

    async def submit(self, job_id: str, attempt: int, instance_id: str) -> None:
        instance = Instance(instance_id, self.urls[instance_id])
        task = asyncio.create_task(drive(self.store, self.settings, job_id, attempt, instance), name=f"job-{job_id}")
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[str]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("driver %s crashed", task.get_name(), exc_info=task.exception())
        if self.on_done is not None:
            self.on_done()

    async def stop(self) -> None:
        """Running attempts give their prompts back and return to the queue."""
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)

"""Dispatch: drive jobs on ComfyUI instances, in this process (local) or via Celery workers.

    dispatcher = build_dispatcher(settings, store, urls)   # urls: ComfyUI base URLs
    await dispatcher.start(); dispatcher.wake(); await dispatcher.stop()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import Executor
from .limits import setting
from .scheduler import Scheduler


def instance_ids(urls: Sequence[str]) -> dict[str, str]:
    """gpu0, gpu1, ... in the order given (also the Celery queue names)."""
    return {f"gpu{i}": url.rstrip("/") for i, url in enumerate(urls)}


class Dispatcher:
    def __init__(self, scheduler: Scheduler, executor: Executor) -> None:
        self.scheduler, self.executor = scheduler, executor

    async def start(self) -> None:
        await self.executor.start()
        await self.scheduler.start()

    def wake(self) -> None:
        self.scheduler.wake()

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.executor.stop()


def build_dispatcher(settings: Any, store: Any, urls: Sequence[str] | None = None, **loop_options: Any) -> Dispatcher:
    """The local executor, or Celery when BROKER_URL is set. `urls` default to COMFYUI_URLS.

    With Celery the workers (`wan-i2v worker --comfy URL --queue gpuN`) report their own instances."""
    if urls is None:
        raw = setting(settings, "COMFYUI_URLS", "") or ""
        urls = [u.strip() for u in (raw.split(",") if isinstance(raw, str) else raw) if u.strip()]
    if setting(settings, "BROKER_URL", ""):
        from .celery_app import CeleryExecutor

        executor: Executor = CeleryExecutor(settings)
        return Dispatcher(Scheduler(store, settings, executor, None, **loop_options), executor)
    from .local import LocalExecutor

    ids = instance_ids(urls)
    local = LocalExecutor(store, settings, ids)
    scheduler = Scheduler(store, settings, local, ids, **loop_options)
    local.on_done = scheduler.wake
    return Dispatcher(scheduler, local)


__all__ = ["Dispatcher", "Executor", "Scheduler", "build_dispatcher", "instance_ids"]

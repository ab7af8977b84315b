"""Celery transport: one queue per ComfyUI instance, consumed by `wan-i2v worker --queue gpuN`.

The broker only carries (job_id, attempt); the database decides. Settings follow
from the broker's at-least-once delivery: late acks, requeue when a pool child
dies, one prefetched message per process, a visibility timeout well above the
job timeout (the reaper, not redelivery, recovers dead workers).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from celery import Celery
from celery.utils.log import get_task_logger

from .limits import Limits, setting

log = get_task_logger(__name__)

TASK_NAME = "generate_video_task_async"
COMFY_ENV = "WAN_I2V_WORKER_COMFY"
QUEUE_ENV = "WAN_I2V_WORKER_QUEUE"


def make_celery(settings: Any) -> Celery:
    broker = setting(settings, "BROKER_URL", "")
    if not broker:
        raise ValueError("BROKER_URL is empty: set it (e.g. redis://127.0.0.1:6379/0) to use Celery workers")
    limits = Limits.from_settings(settings)
    visibility = max(2 * limits.job_timeout_s, 3600.0)
    app = Celery("wan_i2v", broker=broker, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_soft_shutdown_timeout=10.0,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": visibility},
        visibility_timeout=visibility,
        task_serializer="json",
        accept_content=["json"],
    )
    app.task(name=TASK_NAME, bind=True)(_generate_video_task_async)
    return app


_store: Any = None
_settings: Any = None


def worker_context() -> tuple[Any, Any]:
    """The store and settings of this worker process (made once per process, after the fork)."""
    global _store, _settings
    if _store is None:
        from .stores import settings_and_store

        _settings, _store = settings_and_store()
    return _store, _settings


def _generate_video_task_async(task: Any, job_id: str, attempt: int) -> str:
    from .driver import Instance, drive

    store, settings = worker_context()
    url, queue = os.environ[COMFY_ENV], os.environ[QUEUE_ENV]
    job = store.get_job(job_id)
    if job is not None and job.instance_id not in (None, queue):
        log.warning("job %s attempt %s belongs to %s, not %s; ignored", job_id, attempt, job.instance_id, queue)
        return "stale"
    outcome = asyncio.run(drive(store, settings, job_id, int(attempt), Instance(queue, url)))
    log.info("job %s attempt %s: %s", job_id, attempt, outcome)
    return outcome


class CeleryExecutor:
    """Publishes each claimed attempt to the queue of the instance it was given (queue name = instance id)."""

    def __init__(self, settings: Any) -> None:
        self.app = make_celery(settings)

    async def start(self) -> None:
        pass

    async def submit(self, job_id: str, attempt: int, instance_id: str) -> None:
        await asyncio.to_thread(self.app.send_task, TASK_NAME, args=(job_id, attempt), queue=instance_id)

    async def stop(self) -> None:
        await asyncio.to_thread(self.app.close)


def install_reporter(app: Celery) -> None:
    """While the worker runs, its main process reports the instance's state and node types."""
    from celery import signals

    from .reporter import InstanceReporter

    holder: dict[str, InstanceReporter] = {}

    def ready(**_: Any) -> None:
        store, settings = worker_context()
        every = Limits.from_settings(settings).heartbeat_s
        reporter = InstanceReporter(store, os.environ[QUEUE_ENV], os.environ[COMFY_ENV], every)
        reporter.start()
        holder["r"] = reporter

    def shutdown(**_: Any) -> None:
        if "r" in holder:
            holder.pop("r").stop()

    signals.worker_ready.connect(ready, weak=False)
    signals.worker_shutdown.connect(shutdown, weak=False)

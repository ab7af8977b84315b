"""Small helpers shared by the dispatch tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.comfy.client import ComfyClient


def register(store: Any, instance_id: str, url: str) -> None:
    from dispatch_nodes import NODE_CLASS_MAPPINGS

    store.upsert_instance(instance_id, url, instance_id)
    store.instance_seen(instance_id, sorted(NODE_CLASS_MAPPINGS))


def snapshot(job: Any) -> tuple[Any, ...]:
    """The fields a duplicate delivery must not change."""
    return (job.state, job.attempt, job.instance_id, job.prompt_id, job.outputs, job.finished_at, job.error)


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def async_wait_until(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(predicate)
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def comfy_queue(url: str) -> Any:
    async with ComfyClient(url) as c:
        return await c.queue()


def saved_videos(instance_data: Path, job_id: str) -> list[Path]:
    """The videos an instance wrote for one job (one per execution of its prompt)."""
    return sorted((instance_data / "output" / "jobs" / job_id).glob("*.mp4"))

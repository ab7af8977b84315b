"""The dispatch loop in the orchestrator: keep instance records fresh, hand claimed
(job, instance) pairs to the executor, run the reaper.

Claims are made in SQL by the store (fair between users, at most one job waiting
on an instance beyond the running one), so several loops may run at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from orchestrator.comfy.client import ComfyClient, ComfyError

from .base import Executor
from .limits import Limits

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(
        self,
        store: Any,
        settings: Any,
        executor: Executor,
        urls: Mapping[str, str] | None = None,
        poll_s: float = 0.25,
        refresh_s: float = 2.0,
        reap_s: float = 1.0,
        reaper: Callable[..., Any] | None = None,
    ) -> None:
        """`urls` (instance id -> URL) are probed from here; without them (Celery) the workers report
        their instances and this loop only marks down the ones whose worker went quiet."""
        self.store, self.executor = store, executor
        self.limits = Limits.from_settings(settings)
        self.urls = dict(urls or {})
        self.poll_s, self.refresh_s, self.reap_s = poll_s, refresh_s, reap_s
        self.reaper = reaper
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_refresh = self._last_reap = 0.0

    def wake(self) -> None:
        """Look for work now (a job was created or one finished), not at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        for instance_id, url in self.urls.items():
            await asyncio.to_thread(self.store.upsert_instance, instance_id, url, instance_id)
        await self.refresh()
        self._task = asyncio.create_task(self._loop(), name="wan-i2v-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # the loop must outlive a database or network hiccup
                log.exception("dispatch tick failed")
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    async def tick(self) -> int:
        """One pass: refresh and reap when due, then claim until no instance can take more. Returns claims made."""
        now = time.monotonic()
        if now - self._last_refresh >= self.refresh_s:
            await self.refresh()
        if now - self._last_reap >= self.reap_s:
            self._last_reap = now
            await asyncio.to_thread(self._reap)
        return await self.dispatch()

    async def dispatch(self) -> int:
        made = 0
        instances = await asyncio.to_thread(self.store.list_instances)
        for instance in instances:
            if instance.state != "up" or (self.urls and instance.id not in self.urls):
                continue  # the local executor drives only the instances it was given
            while (claim := await asyncio.to_thread(self.store.claim_next, instance.id)) is not None:
                await self.executor.submit(claim.job_id, claim.attempt, claim.instance_id)
                made += 1
        return made

    def _reap(self) -> None:
        reap = self.reaper
        if reap is None:
            from orchestrator.jobs.reaper import reap
        lim = self.limits
        reap(self.store, lim.heartbeat_stale_s, lim.retry_limit, lim.job_timeout_s)

    async def refresh(self) -> None:
        self._last_refresh = time.monotonic()
        if self.urls:
            await asyncio.gather(*(self._probe(i, u) for i, u in self.urls.items()))
        else:
            await asyncio.to_thread(self._expire_quiet_instances)

    async def _probe(self, instance_id: str, url: str) -> None:
        try:
            async with ComfyClient(url, timeout=5.0) as client:
                await client.system_stats()
                node_types = await client.node_types()
        except ComfyError as exc:
            await asyncio.to_thread(self.store.instance_down, instance_id, str(exc))
            return
        await asyncio.to_thread(self.store.instance_seen, instance_id, node_types)

    def _expire_quiet_instances(self) -> None:
        from datetime import datetime, timezone

        now = datetime.now(timezone.utc)
        for instance in self.store.list_instances():
            seen = instance.last_seen_at
            if instance.state != "up" or seen is None:
                continue
            if seen.tzinfo is None:
                seen = seen.replace(tzinfo=timezone.utc)
            # Workers report every HEARTBEAT_S; three missed reports end dispatch there, before
            # the reaper (HEARTBEAT_STALE_S) hands that worker's jobs to another instance.
            quiet_after = min(3 * self.limits.heartbeat_s, self.limits.heartbeat_stale_s / 2)
            if (now - seen).total_seconds() > quiet_after:
                self.store.instance_down(instance.id, "its worker stopped reporting")

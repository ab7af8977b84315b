"""The job store: every state change is one transaction, fenced by the job's attempt number.

A claim (the scheduler giving a queued job to an instance) increments `attempt`; every
later write for that attempt is `UPDATE ... WHERE id = :id AND attempt = :attempt AND
state IN (...)`, so a late duplicate (a broker redelivery, a worker that comes back)
changes nothing. Claims are fair between users (fewest jobs on the GPUs first, then the
oldest job) and on PostgreSQL take rows with FOR UPDATE SKIP LOCKED, so several
orchestrators can schedule at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from orchestrator.core.db import transaction
from orchestrator.core.types import utcnow
from orchestrator.workflows import get_workflow

from .models import ACTIVE, Instance, Job, JobEvent

CLAIM_WINDOW = 200  # queued jobs looked at per claim, oldest first
MAX_ON_INSTANCE = 2  # the running job and one waiting behind it


@dataclass(frozen=True)
class Claim:
    job_id: str
    attempt: int
    instance_id: str


@lru_cache(maxsize=64)
def _node_types(workflow: str, version: int) -> frozenset[str]:
    return frozenset(node["class_type"] for node in get_workflow(workflow, version).api.values())


# The jobs ahead in the queue, as a second copy of the table. One alias for the process: a new one per
# call would make every statement new to SQLAlchemy's compiled-statement cache (5x slower here).
_AHEAD = aliased(Job)


class JobStore:
    def __init__(self, factory: sessionmaker[Session], retry_limit: int = 3) -> None:
        self.factory = factory
        self.retry_limit = retry_limit

    # ------------------------------------------------------------ writing helpers

    def _fenced(self, job_id: str, attempt: int, states: tuple[str, ...], event: str | None, **values: Any) -> bool:
        with transaction(self.factory) as s:
            moved = s.execute(
                update(Job)
                .where(Job.id == job_id, Job.attempt == attempt, Job.state.in_(states), Job.instance_id.is_not(None))
                .values(**values)
            ).rowcount
            if moved and event:
                s.add(JobEvent(job_id=job_id, kind=event, state=values.get("state", "running"), attempt=attempt))
            return bool(moved)

    # ------------------------------------------------------------ jobs

    def create_job(
        self,
        user_id: str,
        workflow: str,
        parameters: dict[str, Any],
        image_path: str,
        seed: int | None = None,
        image_hash: str = "",
        cache_key: str | None = None,
    ) -> Job:
        wf = get_workflow(workflow)
        job = Job(
            id=uuid.uuid4().hex, user_id=user_id, workflow=wf.name, workflow_version=wf.version,
            workflow_hash=wf.content_hash, parameters=parameters, seed=seed, image_path=image_path,
            image_hash=image_hash, cache_key=cache_key, state="queued", created_at=utcnow(),
        )
        with transaction(self.factory) as s:
            s.add(job)
            s.flush()
            s.add(JobEvent(job_id=job.id, kind="state", state=job.state, attempt=0))
        return job

    def create_cached_job(self, user_id: str, source: Job, parameters: dict[str, Any], image_path: str) -> Job:
        """A new record answered from `source`'s stored result: succeeded at once, no GPU work."""
        now = utcnow()
        job = Job(
            id=uuid.uuid4().hex, user_id=user_id, workflow=source.workflow, workflow_version=source.workflow_version,
            workflow_hash=source.workflow_hash, parameters=parameters, seed=source.seed, image_path=image_path,
            image_hash=source.image_hash, cache_key=source.cache_key, cached=True, state="succeeded",
            progress=1.0, outputs=source.outputs, timings={"cached_from": source.id}, created_at=now,
            started_at=now, finished_at=now,
        )
        with transaction(self.factory) as s:
            s.add(job)
            s.flush()
            s.add(JobEvent(job_id=job.id, kind="state", state=job.state, attempt=0))
        return job

    def find_cached(self, cache_key: str) -> Job | None:
        with self.factory() as s:
            return s.scalars(
                select(Job).where(Job.cache_key == cache_key, Job.state == "succeeded", Job.cached.is_(False))
                .order_by(Job.finished_at.desc()).limit(1)
            ).first()

    def get_job(self, job_id: str) -> Job | None:
        with self.factory() as s:
            return s.get(Job, job_id)

    def list_jobs(self, user_id: str | None, offset: int, limit: int) -> tuple[list[Job], int]:
        """Newest first; `user_id=None` lists everyone's (admins)."""
        with self.factory() as s:
            query = select(Job)
            count = select(func.count()).select_from(Job)
            if user_id is not None:
                query, count = query.where(Job.user_id == user_id), count.where(Job.user_id == user_id)
            items = s.scalars(query.order_by(Job.created_at.desc(), Job.id.desc()).offset(offset).limit(limit)).all()
            return list(items), int(s.scalar(count) or 0)

    def queue_position(self, job: Job) -> int | None:
        """1-based place among the jobs waiting for an instance (None once it has one)."""
        return self.queue_positions([job]).get(job.id)

    def queue_positions(self, jobs: list[Job]) -> dict[str, int]:
        """Places of the waiting ones among `jobs`, in one query however many there are (a listing's page)."""
        waiting = [job.id for job in jobs if job.state == "queued" and job.instance_id is None]
        if not waiting:
            return {}
        ahead = _AHEAD
        count_ahead = (
            select(func.count()).select_from(ahead)
            .where(ahead.state == "queued", ahead.instance_id.is_(None), ahead.created_at < Job.created_at)
            .correlate(Job).scalar_subquery()
        )
        with self.factory() as s:
            rows = s.execute(
                select(Job.id, count_ahead).where(Job.id.in_(waiting), Job.state == "queued", Job.instance_id.is_(None))
            ).all()
        return {job_id: int(count or 0) + 1 for job_id, count in rows}

    def events_after(self, job_id: str, after: int) -> list[JobEvent]:
        with self.factory() as s:
            return list(s.scalars(
                select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.id > after).order_by(JobEvent.id)
            ).all())

    def events(self, job_id: str) -> list[JobEvent]:
        return self.events_after(job_id, 0)

    def request_cancel(self, job_id: str) -> str:
        """Not yet running: cancelled now. Running: flagged; the driver interrupts it and records the end."""
        with transaction(self.factory) as s:
            now = utcnow()
            if s.execute(
                update(Job).where(Job.id == job_id, Job.state == "queued")
                .values(state="cancelled", finished_at=now, cancel_requested=True)
            ).rowcount:
                s.add(JobEvent(job_id=job_id, kind="state", state="cancelled", attempt=s.get(Job, job_id).attempt))
                return "cancelled"
            s.execute(update(Job).where(Job.id == job_id, Job.state == "running").values(cancel_requested=True))
            job = s.get(Job, job_id)
            return job.state if job else "missing"

    # ------------------------------------------------------------ claims (the scheduler)

    def claim_next(self, instance_id: str) -> Claim | None:
        with transaction(self.factory) as s:
            postgres = s.get_bind().dialect.name == "postgresql"
            if not postgres:  # a no-op write first takes SQLite's write lock, so claims run one at a time
                s.execute(update(Instance).where(Instance.id == instance_id).values(queue=Instance.queue))
            inst_q = select(Instance).where(Instance.id == instance_id)
            # One claimer per instance at a time, so "at most one waiting" holds across replicas.
            inst = s.scalars(inst_q.with_for_update() if postgres else inst_q).first()
            if inst is None or inst.state != "up":
                return None
            busy = s.scalar(
                select(func.count()).select_from(Job).where(Job.instance_id == instance_id, Job.state.in_(ACTIVE))
            )
            if (busy or 0) >= MAX_ON_INSTANCE:
                return None
            have = set(inst.node_types or [])
            candidates = s.scalars(
                select(Job).where(Job.state == "queued", Job.instance_id.is_(None))
                .order_by(Job.created_at).limit(CLAIM_WINDOW)
            ).all()
            if not candidates:
                return None
            load = dict(s.execute(
                select(Job.user_id, func.count()).where(Job.instance_id.is_not(None), Job.state.in_(ACTIVE))
                .group_by(Job.user_id)
            ).all())
            for job in sorted(candidates, key=lambda j: (load.get(j.user_id, 0), j.created_at)):
                try:
                    needed = _node_types(job.workflow, job.workflow_version)
                except Exception:  # a workflow no longer shipped: the driver fails it with the reason
                    needed = frozenset()
                if not needed <= have:
                    continue
                if postgres:  # another replica taking this very row: skip it rather than wait
                    free = select(Job.id).where(Job.id == job.id, Job.state == "queued", Job.instance_id.is_(None))
                    if s.scalar(free.with_for_update(skip_locked=True)) is None:
                        continue
                now, attempt = utcnow(), job.attempt + 1
                moved = s.execute(
                    update(Job).where(Job.id == job.id, Job.attempt == job.attempt, Job.state == "queued",
                                      Job.instance_id.is_(None))
                    .values(attempt=attempt, instance_id=instance_id, claimed_at=now, heartbeat_at=now,
                            prompt_id=None)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if moved:
                    return Claim(job.id, attempt, instance_id)
            return None

    # ------------------------------------------------------------ the driver's fenced writes

    def is_current(self, job_id: str, attempt: int) -> bool:
        job = self.get_job(job_id)
        return job is not None and job.attempt == attempt and job.state in ACTIVE and job.instance_id is not None

    def cancel_requested(self, job_id: str, attempt: int) -> bool:
        job = self.get_job(job_id)
        return job is not None and job.attempt == attempt and bool(job.cancel_requested)

    def mark_running(self, job_id: str, attempt: int, prompt_id: str) -> bool:
        now = utcnow()
        return self._fenced(job_id, attempt, ("queued",), "state", state="running", prompt_id=prompt_id,
                            started_at=now, heartbeat_at=now)

    def heartbeat(self, job_id: str, attempt: int) -> bool:
        return self._fenced(job_id, attempt, ACTIVE, None, heartbeat_at=utcnow())

    def progress(self, job_id: str, attempt: int, step: int, steps: int, node: str | None,
                 progress: float | None) -> bool:
        """`progress=None` updates the stage and its steps but keeps the overall share (so it never runs back)."""
        values: dict[str, Any] = {"step": step, "steps": steps, "node": node, "heartbeat_at": utcnow()}
        if progress is not None:
            values["progress"] = max(0.0, min(1.0, float(progress)))
        return self._fenced(job_id, attempt, ("running",), "progress", **values)

    def succeed(self, job_id: str, attempt: int, outputs: list[Any], timings: dict[str, Any]) -> bool:
        return self._fenced(job_id, attempt, ("running",), "state", state="succeeded", outputs=outputs,
                            timings=timings, progress=1.0, error=None, finished_at=utcnow())

    def fail(self, job_id: str, attempt: int, error: str, retryable: bool, retry_limit: int | None = None,
             lost_claim: bool = False) -> bool:
        """Retryable faults put the job back in the queue until the retry limit, then fail it with the reason."""
        limit = self.retry_limit if retry_limit is None else retry_limit
        # A claim the reaper finds lost (e.g. with a restarted broker) counts only if it started;
        # such claims are still bounded, at three times the limit.
        runs = self._runs(job_id) if lost_claim else attempt
        if retryable and runs < limit and attempt < 3 * limit:
            return self._fenced(job_id, attempt, ACTIVE, "state", state="queued", instance_id=None, prompt_id=None,
                                error=error, progress=0.0, step=None, steps=None, node=None)
        if retryable:
            started = f", {runs} of them started" if lost_claim else ""
            error = f"{error} (gave up after {attempt} attempts{started})"
        return self._fenced(job_id, attempt, ACTIVE, "state", state="failed", error=error, finished_at=utcnow())

    def _runs(self, job_id: str) -> int:
        with self.factory() as s:
            return int(s.scalar(select(func.count()).select_from(JobEvent).where(
                JobEvent.job_id == job_id, JobEvent.kind == "state", JobEvent.state == "running")) or 0)

    def mark_cancelled(self, job_id: str, attempt: int) -> bool:
        return self._fenced(job_id, attempt, ACTIVE, "state", state="cancelled", finished_at=utcnow())

    def stale_attempts(self, older_than: datetime) -> list[Job]:
        with self.factory() as s:
            return list(s.scalars(
                select(Job).where(Job.instance_id.is_not(None), Job.state.in_(ACTIVE),
                                  or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < older_than))
            ).all())

    # ------------------------------------------------------------ instances

    def upsert_instance(self, instance_id: str, url: str, queue: str) -> None:
        with transaction(self.factory) as s:
            inst = s.get(Instance, instance_id)
            if inst is None:
                s.add(Instance(id=instance_id, url=url, queue=queue, state="down"))
            else:
                inst.url, inst.queue = url, queue

    def instance_seen(self, instance_id: str, node_types: list[str]) -> None:
        with transaction(self.factory) as s:
            s.execute(update(Instance).where(Instance.id == instance_id)
                      .values(state="up", node_types=sorted(node_types), last_seen_at=utcnow(), error=None))

    def instance_down(self, instance_id: str, error: str) -> None:
        with transaction(self.factory) as s:
            s.execute(update(Instance).where(Instance.id == instance_id).values(state="down", error=error))

    def list_instances(self) -> list[Instance]:
        with self.factory() as s:
            return list(s.scalars(select(Instance).order_by(Instance.id)).all())

    def instance_jobs(self) -> dict[str, list[Job]]:
        """Active jobs per instance, running first (for the admin view)."""
        with self.factory() as s:
            jobs = s.scalars(select(Job).where(Job.instance_id.is_not(None), Job.state.in_(ACTIVE))
                             .order_by(Job.started_at.desc())).all()
        out: dict[str, list[Job]] = {}
        for job in sorted(jobs, key=lambda j: j.state != "running"):
            out.setdefault(job.instance_id or "", []).append(job)
        return out


def stale_cutoff(seconds: float) -> datetime:
    return utcnow() - timedelta(seconds=seconds)

"""The job store on SQLite and PostgreSQL: fenced writes, fair claims, capacity, cancel, retries, the reaper."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import update

from orchestrator.core.db import session_factory, transaction
from orchestrator.core.types import utcnow
from orchestrator.jobs.models import Job
from orchestrator.jobs.reaper import reap
from orchestrator.jobs.store import JobStore
from orchestrator.users.store import UserStore
from orchestrator.workflows import get_workflow

NODES = sorted({n["class_type"] for n in get_workflow("i2v_480p").api.values()})


@pytest.fixture
def db(any_db_url: str):
    factory = session_factory(any_db_url)
    users = UserStore(factory)
    ids = {name: users.add(name, f"password-{name}").id for name in ("alice", "bob")}
    return JobStore(factory, retry_limit=3), ids


def _up(store: JobStore, *instances: str, nodes: list[str] = NODES) -> None:
    for inst in instances:
        store.upsert_instance(inst, f"http://{inst}", inst)
        store.instance_seen(inst, nodes)


def _job(store: JobStore, user_id: str):
    return store.create_job(user_id, "i2v_480p", {"prompt": "x"}, "/nowhere.png", seed=1)


def test_a_late_duplicate_cannot_overwrite_or_finish_twice(db) -> None:
    store, ids = db
    _up(store, "gpu0")
    job = _job(store, ids["alice"])
    claim = store.claim_next("gpu0")
    assert claim.attempt == 1 and store.get_job(job.id).instance_id == "gpu0"
    assert store.mark_running(job.id, 1, "p1")
    # The attempt stalls; its job goes back to the queue and is claimed again (attempt 2).
    assert store.fail(job.id, 1, "instance stopped reporting", retryable=True)
    assert store.claim_next("gpu0").attempt == 2
    assert store.mark_running(job.id, 2, "p2")
    # The first attempt comes back: none of its writes land.
    assert not store.progress(job.id, 1, 5, 10, "KSampler", 0.5)
    assert not store.succeed(job.id, 1, [{"kind": "video", "filename": "old.mp4"}], {})
    assert not store.fail(job.id, 1, "late", retryable=False)
    assert store.succeed(job.id, 2, [{"kind": "video", "filename": "new.mp4"}], {})
    assert not store.succeed(job.id, 2, [{"kind": "video", "filename": "again.mp4"}], {})
    done = store.get_job(job.id)
    assert done.state == "succeeded" and done.outputs == [{"kind": "video", "filename": "new.mp4"}]
    assert [e.state for e in store.events(job.id)].count("succeeded") == 1


def test_claims_are_fair_between_users(db) -> None:
    store, ids = db
    _up(store, "gpu0", "gpu1")
    backlog = [_job(store, ids["alice"]) for _ in range(5)]
    late = _job(store, ids["bob"])  # created after all of alice's
    first = store.claim_next("gpu0")
    second = store.claim_next("gpu1")
    assert first.job_id == backlog[0].id
    assert second.job_id == late.id  # bob has nothing on the GPUs, so he goes before alice's backlog


def test_an_instance_holds_at_most_one_job_beyond_the_running_one(db) -> None:
    store, ids = db
    _up(store, "gpu0")
    for _ in range(4):
        _job(store, ids["alice"])
    assert store.claim_next("gpu0") is not None
    assert store.claim_next("gpu0") is not None
    assert store.claim_next("gpu0") is None


def test_an_instance_without_the_workflow_nodes_or_down_gets_nothing(db) -> None:
    store, ids = db
    _up(store, "partial", nodes=NODES[:-1])
    _up(store, "gone")
    store.instance_down("gone", "connection refused")
    _job(store, ids["alice"])
    assert store.claim_next("partial") is None
    assert store.claim_next("gone") is None


def test_cancel_queued_at_once_running_by_the_driver(db) -> None:
    store, ids = db
    _up(store, "gpu0")
    waiting, running = _job(store, ids["alice"]), _job(store, ids["alice"])
    claim = store.claim_next("gpu0")  # the older one
    store.mark_running(claim.job_id, claim.attempt, "p")
    assert store.request_cancel(waiting.id if waiting.id != claim.job_id else running.id) == "cancelled"
    assert store.request_cancel(claim.job_id) == "running"
    assert store.cancel_requested(claim.job_id, claim.attempt)
    assert store.mark_cancelled(claim.job_id, claim.attempt)
    assert store.get_job(claim.job_id).state == "cancelled"


def test_retryable_faults_requeue_until_the_limit_then_fail_with_the_reason(db) -> None:
    store, ids = db
    _up(store, "gpu0")
    job = _job(store, ids["alice"])
    for attempt in (1, 2, 3):
        assert store.claim_next("gpu0").attempt == attempt
        assert store.mark_running(job.id, attempt, f"p{attempt}")
        store.fail(job.id, attempt, "instance unreachable", retryable=True)
    failed = store.get_job(job.id)
    assert failed.state == "failed" and "instance unreachable" in failed.error and "3 attempts" in failed.error


def test_claims_that_never_started_do_not_use_up_the_retries(db) -> None:
    """A claim lost with the broker ran nothing; it is retried, but not forever."""
    store, ids = db
    _up(store, "gpu0")
    job = _job(store, ids["alice"])
    for attempt in range(1, 9):
        assert store.claim_next("gpu0").attempt == attempt
        assert store.fail(job.id, attempt, "stopped reporting", retryable=True, lost_claim=True)
        assert store.get_job(job.id).state == "queued"
    assert store.claim_next("gpu0").attempt == 9
    store.fail(job.id, 9, "stopped reporting", retryable=True, lost_claim=True)
    failed = store.get_job(job.id)
    assert failed.state == "failed" and "0 of them started" in failed.error


def test_the_reaper_hands_back_stale_attempts_only(db) -> None:
    store, ids = db
    _up(store, "gpu0", "gpu1")
    stale, fresh = _job(store, ids["alice"]), _job(store, ids["bob"])
    a, b = store.claim_next("gpu0"), store.claim_next("gpu1")
    for claim in (a, b):
        store.mark_running(claim.job_id, claim.attempt, "p")
    with transaction(store.factory) as s:
        s.execute(update(Job).where(Job.id == stale.id).values(heartbeat_at=utcnow() - timedelta(minutes=5)))
    assert reap(store, stale_after_s=30, retry_limit=3, job_timeout_s=3600) == [stale.id]
    assert store.get_job(stale.id).state == "queued" and store.get_job(stale.id).instance_id is None
    assert store.get_job(fresh.id).state == "running"


def test_concurrent_claimers_never_take_the_same_job(db) -> None:
    """Like several orchestrator replicas: every claim is unique (SKIP LOCKED on PostgreSQL)."""
    store, ids = db
    names = [f"gpu{i}" for i in range(6)]
    _up(store, *names)
    jobs = {_job(store, ids["alice" if i % 2 else "bob"]).id for i in range(12)}
    claims: list = []
    lock = threading.Lock()

    def claimer(inst: str) -> None:
        while (claim := store.claim_next(inst)) is not None:
            with lock:
                claims.append(claim)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken = [c.job_id for c in claims]
    assert len(taken) == len(set(taken)) == 12 and set(taken) == jobs
    per_instance = {n: sum(c.instance_id == n for c in claims) for n in names}
    assert all(v == 2 for v in per_instance.values())


def test_stage_progress_without_a_share_keeps_the_bar_where_it_is(db) -> None:
    store, ids = db
    _up(store, "gpu0")
    job = _job(store, ids["alice"])
    claim = store.claim_next("gpu0")
    store.mark_running(job.id, claim.attempt, "p")
    assert store.progress(job.id, claim.attempt, 30, 40, "Sampler", 0.75)
    assert store.progress(job.id, claim.attempt, 1, 3, "VAE decode", None)
    after = store.get_job(job.id)
    assert (after.progress, after.step, after.steps, after.node) == (0.75, 1, 3, "VAE decode")


def test_queue_positions_of_a_page_come_from_one_query(db) -> None:
    from sqlalchemy import event

    store, ids = db
    _up(store, "gpu0")
    jobs = [_job(store, ids["alice" if i % 2 else "bob"]) for i in range(6)]
    store.claim_next("gpu0")  # the oldest gets an instance: no longer waiting
    fresh = [store.get_job(j.id) for j in jobs]
    one_by_one = {j.id: store.queue_position(j) for j in fresh}
    assert sorted(p for p in one_by_one.values() if p is not None) == [1, 2, 3, 4, 5]

    engine = store.factory.kw["bind"]
    statements: list[str] = []
    listener = lambda conn, cursor, statement, *rest: statements.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        together = store.queue_positions(fresh)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert together == {job_id: p for job_id, p in one_by_one.items() if p is not None}
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1

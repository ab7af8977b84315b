"""Two orchestrators on one PostgreSQL schema and one Redis broker, two Celery workers: each job is
scheduled once, status, events and downloads work through either replica (shared VIDEOS_DIR), the
reaper runs in both without double hand-backs, and one replica SIGKILLed leaves the other in charge."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cluster_support import REDIS_DB, Cluster, make_cluster, redis_up
from databases import postgres_url
from reliability_support import assert_ledger, job, submit, wait_all_final
from service_support import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from postgres_url()


@pytest.fixture
def cluster(tmp_path: Path, pg_url: str) -> Iterator[Cluster]:
    if not redis_up():
        pytest.skip(f"Redis at {REDIS_DB} is not reachable")
    c = make_cluster(tmp_path, pg_url, REDIS_DB)
    try:
        yield c
    except Exception:
        print(c.service.logs())
        raise
    finally:
        c.close()


def _running_events(url: str, job_id: str) -> list[int]:
    from orchestrator.core.db import session_factory
    from orchestrator.jobs.store import JobStore

    return [e.attempt for e in JobStore(session_factory(url)).events(job_id) if e.kind == "state" and e.state == "running"]


def _deliveries(cluster: Cluster) -> Counter[tuple[str, int]]:
    """(job, attempt) pairs the workers ran, from their logs ("job <id> attempt <n>: <outcome>")."""
    seen: Counter[tuple[str, int]] = Counter()
    for log in cluster.service.tmp.glob("worker-*.log"):
        for m in re.finditer(r"job ([0-9a-f]{32}) attempt (\d+): \w+", log.read_text()):
            seen[(m.group(1), int(m.group(2)))] += 1
    return seen


def test_two_replicas_share_the_work_and_survive_one_killed(cluster: Cluster) -> None:
    a, b = cluster.start_replica(), cluster.start_replica()
    ta, tb = cluster.token(a, "alice"), cluster.token(b, "bob")  # a token from one replica works on the other
    via_a, via_b = cluster.client(a, ta), cluster.client(b, ta)
    bob_b = cluster.client(b, tb)
    wait_for(lambda: via_b.get("/api/health").json()["instances_up"] == 2, 60, "both workers to report")

    # Work submitted through both replicas; both schedulers and reapers run at once.
    first = [submit(via_a if i % 2 else via_b, steps=4, delay=0.05) for i in range(10)]
    bobs = submit(bob_b, steps=3)
    done = wait_all_final(via_a, first, 90) | wait_all_final(bob_b, [bobs], 30)
    first.append(bobs)
    assert all(j["state"] == "succeeded" and j["attempt"] == 1 for j in done.values()), done
    assert {j["instance"] for j in done.values()} == {cluster.queue(0), cluster.queue(1)}
    for job_id in first:  # scheduled exactly once: one claim, one run
        assert _running_events(cluster.env["DATABASE_URL"], job_id) == [1]
    runs = _deliveries(cluster)
    assert all(runs[(j, 1)] == 1 for j in first), runs  # one message per claim, not one per replica
    # Reads through the other replica: status, the events stream to its end, the file (shared VIDEOS_DIR).
    some = first[0]
    assert job(via_b, some)["state"] == "succeeded"
    assert "event: end" in via_b.get(f"/api/jobs/{some}/events").text
    assert "event: end" in httpx.get(f"{b.url}/api/jobs/{some}/events?access_token={ta}", timeout=30).text
    video_a, video_b = via_a.get(f"/api/download/{some}"), via_b.get(f"/api/download/{some}")
    assert video_a.status_code == video_b.status_code == 200 and video_a.content == video_b.content
    assert via_b.get(f"/api/download/{some}", headers={"Range": "bytes=0-5"}).content == video_a.content[:6]
    assert bob_b.get(f"/api/jobs/{some}").status_code == 404  # isolation holds on every replica

    # A worker SIGKILLed mid-job with two reapers running: handed back once, finished elsewhere once.
    slow = submit(via_a, steps=40, delay=0.05)
    victim = wait_for(lambda: (j := job(via_b, slow))["progress"] > 0 and j["instance"], 30, "the slow job to run")
    cluster.service.workers[victim].kill()
    # Replica A dies too, with work queued behind the survivors.
    queued = [submit(via_a, steps=3, delay=0.05) for _ in range(4)]
    a.proc.kill()
    queued += [submit(via_b, steps=3) for _ in range(3)]
    ended = wait_all_final(via_b, [slow, *queued], 90)
    assert all(j["state"] == "succeeded" for j in ended.values()), ended
    assert ended[slow]["attempt"] == 2 and ended[slow]["instance"] != victim
    assert _running_events(cluster.env["DATABASE_URL"], slow) == [1, 2]
    sequences = assert_ledger(cluster.env["DATABASE_URL"], [*first, slow, *queued])
    assert sequences[slow].count("queued") == 2  # created, then one hand-back (not one per reaper)

    # Replica A restarted on its port: it serves the state the other recorded.
    time.sleep(0.2)
    cluster.replicas.remove(a)
    again = cluster.start_replica(a.port)
    assert job(cluster.client(again, ta), slow)["state"] == "succeeded"
    # What `wan-i2v serve` itself wrote (its logging set-up, not a test's): requests, never tokens.
    logs = "".join(p.read_text() for p in cluster.service.tmp.glob("replica*.log"))
    assert f"/api/jobs/{some}/events" in logs
    assert ta not in logs and tb not in logs and "access_token" not in logs

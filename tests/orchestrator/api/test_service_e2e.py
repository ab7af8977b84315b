"""The service end to end, in processes: `wan-i2v serve` with two ComfyUI-compatible instances (trivial nodes),
the local executor and then Celery with two `wan-i2v worker`s on this machine's Redis."""

from __future__ import annotations

import io
import time
import uuid

import httpx
import pytest
from PIL import Image

from service_support import TRIVIAL_WORKFLOWS, Service, service_env, wait_for

pytestmark = pytest.mark.e2e
REDIS = "redis://127.0.0.1:6379/12"


def _png(color=(10, 20, 30)) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    Image.new("RGB", (32, 32), color).save(out, "PNG")
    return out.getvalue()


def _submit(c: httpx.Client, steps: int = 3, delay: float = 0.0, seed: int = -1, color=(10, 20, 30)) -> str:  # type: ignore[no-untyped-def]
    r = c.post("/api/generate", data={"workflow": "dispatch_test", "steps": str(steps), "delay": str(delay),
                                      "seed": str(seed)}, files={"image": ("in.png", _png(color), "image/png")})
    assert r.status_code == 202, r.text
    return r.json()["job_id"]


def _job(c: httpx.Client, job_id: str) -> dict:
    return c.get(f"/api/jobs/{job_id}").json()


def _all_done(c: httpx.Client, ids: list[str], timeout: float = 60) -> dict[str, dict]:
    final = ("succeeded", "failed", "cancelled")
    wait_for(lambda: all(_job(c, j)["state"] in final for j in ids), timeout, "the jobs to end")
    return {j: _job(c, j) for j in ids}


def _make(tmp_path, **env):  # type: ignore[no-untyped-def]
    service = Service(tmp_path, service_env(tmp_path, WAN_WORKFLOWS_DIR=str(TRIVIAL_WORKFLOWS), **env))
    for _ in range(2):
        service.start_instance()
    service.add_user("alice")
    service.add_user("bob")
    return service


@pytest.fixture
def local(tmp_path):  # type: ignore[no-untyped-def]
    service = _make(tmp_path)
    service.start_server()
    try:
        yield service
    except Exception:
        print(service.logs())
        raise
    finally:
        service.close()


def test_two_users_fairness_isolation_downloads_cancel_and_cache(local: Service) -> None:
    alice, bob = local.client(local.token("alice")), local.client(local.token("bob"))
    backlog = [_submit(alice, steps=6, delay=0.1) for _ in range(6)]
    time.sleep(0.3)
    bobs = _submit(bob, steps=2)
    done = _all_done(alice, backlog, 90) | _all_done(bob, [bobs], 5)
    assert all(j["state"] == "succeeded" for j in done.values()), done
    # Fairness: bob's one job started before alice's backlog had all started.
    assert done[bobs]["started_at"] < max(done[j]["started_at"] for j in backlog)
    assert {j["instance"] for j in done.values()} == {"gpu0", "gpu1"}
    # Downloads, with Range (players seek); the poster; isolation.
    video = alice.get(f"/api/download/{backlog[0]}")
    part = alice.get(f"/api/download/{backlog[0]}", headers={"Range": "bytes=10-19"})
    assert video.status_code == 200 and video.content.startswith(b"video ")
    assert part.status_code == 206 and part.content == video.content[10:20]
    assert alice.get(f"/api/download/{backlog[0]}?file=poster").content.startswith(b"poster ")
    assert bob.get(f"/api/download/{backlog[0]}").status_code == 404
    assert [j["id"] for j in bob.get("/api/jobs").json()["items"]] == [bobs]
    _signed_links_open_one_jobs_files_only(local, done[backlog[0]], done[bobs], video.content)

    # Cancel: a running job is interrupted on its instance; a waiting one is cancelled at once.
    running = _submit(alice, steps=300, delay=0.05)
    wait_for(lambda: _job(alice, running)["progress"] > 0, 20, "progress")
    assert alice.post(f"/api/jobs/{running}/cancel").status_code == 200
    ended = _all_done(alice, [running], 15)[running]
    assert ended["state"] == "cancelled" and ended["finished_at"]

    # The result cache: the same image, workflow and fixed seed come back at once, marked cached.
    first = _submit(bob, steps=2, seed=5, color=(1, 2, 3))
    _all_done(bob, [first], 20)
    again = bob.post("/api/generate", data={"workflow": "dispatch_test", "steps": "2", "seed": "5"},
                     files={"image": ("other-name.png", _png((1, 2, 3)), "image/png")}).json()
    assert again["cached"] and again["state"] == "succeeded"
    assert bob.get(f"/api/download/{again['job_id']}").content == bob.get(f"/api/download/{first}").content


def _signed_links_open_one_jobs_files_only(service: Service, job: dict, other: dict, video: bytes) -> None:
    """The job's URLs carry a signature that a <video> element can use without a header (with Range)."""
    import httpx

    anonymous = httpx.Client(base_url=service.url, timeout=30)
    signed = anonymous.get(job["video_url"], headers={"Range": "bytes=10-19"})
    assert signed.status_code == 206 and signed.content == video[10:20]
    assert anonymous.get(job["poster_url"]).content.startswith(b"poster ")
    assert anonymous.get(job["outputs"][0]["url"]).status_code == 200
    sig = job["video_url"].split("sig=", 1)[1]
    # For this job only, not as an access token, not tampered with.
    refused = [anonymous.get(f"/api/download/{other['id']}", params={"sig": sig}),
               anonymous.get("/api/jobs", headers={"Authorization": f"Bearer {sig}"}),
               anonymous.get(f"/api/download/{job['id']}", params={"sig": sig[:-2] + "xx"}),
               anonymous.get(f"/api/download/{job['id']}")]  # fmt: skip
    assert [r.status_code for r in refused] == [401, 401, 401, 401], [r.text for r in refused]
    assert "another job" in refused[0].json()["error"]["message"]


def test_events_stream_progress_then_the_end_and_resume(local: Service) -> None:
    alice = local.client(local.token("alice"))
    job = _submit(alice, steps=8, delay=0.1)
    kinds, ids, last = [], [], None
    with alice.stream("GET", f"/api/jobs/{job}/events", timeout=60) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("id:"):
                ids.append(int(line[3:]))
            elif line.startswith("event:"):
                kinds.append(line[6:].strip())
            elif line.startswith("data:"):
                last = line[5:]
            if kinds and kinds[-1] == "end" and line.startswith("data:"):
                break
    assert "progress" in kinds and kinds[-1] == "end" and '"succeeded"' in last
    assert ids == sorted(ids)
    # Resuming after the last id gives only the end.
    with alice.stream("GET", f"/api/jobs/{job}/events", headers={"Last-Event-ID": str(ids[-1])}) as r:
        text = r.read().decode()
    assert "event: end" in text and "event: progress" not in text


def test_an_instance_killed_mid_job_and_an_orchestrator_restart_lose_nothing(local: Service) -> None:
    alice = local.client(local.token("alice"))
    jobs = [_submit(alice, steps=10, delay=0.1) for _ in range(4)]
    wait_for(lambda: any(_job(alice, j)["state"] == "running" and _job(alice, j)["progress"] > 0
                         and _job(alice, j)["instance"] == "gpu0" for j in jobs), 20, "a job running on gpu0")
    local.instances[0].kill()  # SIGKILL: gpu0's jobs must finish on gpu1
    local.server.kill()  # and the orchestrator dies too, mid-queue
    local.start_server()
    alice = local.client(local.token("alice"))
    done = _all_done(alice, jobs, 90)
    assert all(j["state"] == "succeeded" for j in done.values()), done
    moved = [j for j in done.values() if j["attempt"] > 1]
    assert moved and all(j["instance"] == "gpu1" for j in moved)
    from orchestrator.core.db import session_factory
    from orchestrator.jobs.store import JobStore

    store = JobStore(session_factory(local.env["DATABASE_URL"]))
    for j in jobs:  # each finished exactly once
        assert [e.state for e in store.events(j)].count("succeeded") == 1


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def test_celery_workers_run_jobs_and_a_killed_worker_is_reaped(tmp_path) -> None:
    if not _redis_up():
        pytest.skip(f"Redis at {REDIS} is not reachable")
    run = uuid.uuid4().hex[:6]
    service = _make(tmp_path, BROKER_URL=REDIS)
    queues = [f"e2e{run}gpu{i}" for i in range(2)]
    try:
        for queue, url in zip(queues, service.urls):
            service.start_worker(queue, url)
        service.start_server()
        alice = service.client(service.token("alice"))
        wait_for(lambda: service.client(service.token("alice")).get("/api/health").json()["instances_up"] == 2,
                 60, "both workers to report their instances")
        first = [_submit(alice, steps=3) for _ in range(4)]
        done = _all_done(alice, first, 60)
        assert all(j["state"] == "succeeded" for j in done.values()) and {j["instance"] for j in done.values()} == set(queues)
        slow = _submit(alice, steps=40, delay=0.1)
        victim = wait_for(lambda: (j := _job(alice, slow))["progress"] > 0 and j["instance"], 30, "the slow job to run")
        killed_at = time.monotonic()
        service.workers[victim].kill()
        ended = _all_done(alice, [slow], 60)[slow]
        assert ended["state"] == "succeeded" and ended["instance"] != victim and ended["attempt"] == 2
        assert time.monotonic() - killed_at < 30  # the reaper, not a broker visibility timeout (hours)
    except Exception:
        print(service.logs())
        raise
    finally:
        service.close()
        import redis

        client = redis.Redis.from_url(REDIS)
        for key in client.scan_iter(f"*e2e{run}*"):
            client.delete(key)

"""Faults around a running service (processes, the local executor unless said): the ComfyUI websocket cut
and gone silent, an instance that never answers, one that restarts and forgets its queue, the videos disk
full, and (Celery) the broker restarted mid-queue. Each ends with every job succeeded or failed with a
reason, none lost and none recorded twice (one terminal event per job)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cluster_support import drop_keys
from fault_support import FlakyProxy, MuteInstance
from reliability_support import assert_ledger, job, submit, wait_all_final
from service_support import TRIVIAL_WORKFLOWS, Service, free_port, service_env, wait_for

pytestmark = pytest.mark.e2e


def _service(tmp: Path, **env: str) -> Service:
    service = Service(tmp, service_env(tmp, WAN_WORKFLOWS_DIR=str(TRIVIAL_WORKFLOWS), **env))
    service.add_user("alice")
    return service


@pytest.fixture
def make(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    made: list[Service] = []

    def _make(**env: str) -> Service:
        made.append(_service(tmp_path, **env))
        return made[-1]

    try:
        yield _make
    except Exception:
        for s in made:
            print(s.logs())
        raise
    finally:
        for s in made:
            s.close()


def _states(service: Service, job_id: str) -> list[str]:
    from orchestrator.core.db import session_factory
    from orchestrator.jobs.store import JobStore

    return [e.state for e in JobStore(session_factory(service.env["DATABASE_URL"])).events(job_id) if e.kind == "state"]


def test_websocket_cut_and_gone_silent_mid_job(make) -> None:  # type: ignore[no-untyped-def]
    service = make()
    direct = service.start_instance()
    proxy = FlakyProxy(int(direct.rsplit(":", 1)[1]))
    service.urls = [proxy.url]  # the orchestrator reaches the instance only through the proxy
    try:
        service.start_server()
        alice = service.client(service.token("alice"))
        wait_for(lambda: alice.get("/api/health").json()["instances_up"] == 1, 30, "the instance")
        cut = submit(alice, steps=40, delay=0.05)
        wait_for(lambda: job(alice, cut)["progress"] > 0.1, 20, "progress")
        assert proxy.cut() >= 1
        time.sleep(0.5)
        assert proxy.cut() >= 0  # and again, while it reconnects
        silent = submit(alice, steps=40, delay=0.05)
        wait_for(lambda: job(alice, silent)["state"] == "running", 20, "the second job to run")
        proxy.silent = True  # sockets stay open; no frame arrives until the job is over
        done = wait_all_final(alice, [cut, silent], 60)
        proxy.silent = False
        assert all(j["state"] == "succeeded" for j in done.values()), done
        assert all(j["attempt"] == 1 for j in done.values()), done  # followed through history, not re-run
        assert alice.get(f"/api/download/{silent}").content.startswith(b"video ")
        assert proxy.ws_cut >= 1 and proxy.ws_opened >= 3
        assert_ledger(service.env["DATABASE_URL"], [cut, silent])
    finally:
        proxy.close()


def test_an_instance_that_never_answers_times_out_and_is_interrupted(make) -> None:  # type: ignore[no-untyped-def]
    mute = MuteInstance()
    service = make(JOB_TIMEOUT_S="2", PROGRESS_SILENCE_S="30")
    service.urls = [mute.url]
    try:
        service.start_server()
        alice = service.client(service.token("alice"))
        wait_for(lambda: alice.get("/api/health").json()["instances_up"] == 1, 30, "the instance")
        started = time.monotonic()
        ids = [submit(alice, steps=3), submit(alice, steps=3)]
        done = wait_all_final(alice, ids, 40)
        for j in done.values():
            assert j["state"] == "failed" and "timeout" in j["error"] and j["attempt"] == 1, j
        assert time.monotonic() - started < 30
        assert len(mute.prompts) == 2 and set(mute.interrupted) == set(mute.prompts)  # the GPU is freed
        assert_ledger(service.env["DATABASE_URL"], ids)
    finally:
        mute.close()


def test_an_instance_that_restarts_and_forgets_its_queue(make) -> None:  # type: ignore[no-untyped-def]
    service = make(UNREACHABLE_S="5")
    url = service.start_instance()
    service.start_server()
    alice = service.client(service.token("alice"))
    running = submit(alice, steps=60, delay=0.05)
    behind = submit(alice, steps=60, delay=0.05)  # handed to the same instance, waiting in its queue
    wait_for(lambda: job(alice, running)["progress"] > 0.1, 20, "progress")
    service.instances[0].kill()
    service.start_instance(int(url.rsplit(":", 1)[1]))  # the same address, an empty queue and history
    done = wait_all_final(alice, [running, behind], 60)
    assert all(j["state"] == "succeeded" for j in done.values()), done
    assert done[running]["attempt"] == 2
    assert _states(service, running) == ["queued", "running", "queued", "running", "succeeded"]
    assert_ledger(service.env["DATABASE_URL"], [running, behind])


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs for VIDEOS_DIR (skips where mounting is not allowed)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def test_videos_disk_full_fails_clearly_and_keeps_earlier_videos(make, small_disk: Path) -> None:  # type: ignore[no-untyped-def]
    videos = small_disk / "videos"
    service = make(VIDEOS_DIR=str(videos))
    service.start_instance()
    service.start_server()
    alice = service.client(service.token("alice"))
    before = submit(alice, steps=2)
    assert wait_all_final(alice, [before], 30)[before]["state"] == "succeeded"
    kept = alice.get(f"/api/download/{before}").content
    filler = _fill(small_disk)
    full = [submit(alice, steps=2, color=(i, 9, 9)) for i in range(2)]
    done = wait_all_final(alice, full, 40)
    for j in done.values():
        assert j["state"] == "failed" and "space" in j["error"].lower(), j
    assert alice.get(f"/api/download/{before}").content == kept  # earlier videos intact
    assert not any(p.name.endswith(".part") for p in videos.rglob("*"))  # no half-written files left
    filler.unlink()
    after = submit(alice, steps=2, color=(1, 1, 1))
    assert wait_all_final(alice, [after], 30)[after]["state"] == "succeeded"
    assert_ledger(service.env["DATABASE_URL"], [before, *full, after])


class _PrivateRedis:
    """A redis-server of our own on a free port, without persistence (a restart forgets every message)."""

    def __init__(self, folder: Path) -> None:
        self.port, self.folder, self.proc = free_port(), folder, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.folder)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        import redis

        wait_for(lambda: self._ping(redis), 10, "the private redis")

    def _ping(self, redis) -> bool:  # type: ignore[no-untyped-def]
        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def test_broker_restarted_mid_queue(make, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if subprocess.run(["which", "redis-server"], capture_output=True).returncode != 0:
        pytest.skip("redis-server is not on the PATH")
    broker = _PrivateRedis(tmp_path)
    broker.start()
    run = uuid.uuid4().hex[:6]
    # Celery's reconnect backs off for seconds; an attempt whose message died with the broker is reaped after
    # HEARTBEAT_STALE_S and counts as an attempt, so the stale limit here sits above that backoff.
    service = make(BROKER_URL=broker.url, HEARTBEAT_STALE_S="8", RETRY_LIMIT="4")
    try:
        for i in range(2):
            service.start_worker(f"b{run}gpu{i}", service.start_instance())
        service.start_server()
        alice = service.client(service.token("alice"))
        wait_for(lambda: alice.get("/api/health").json()["instances_up"] == 2, 60, "both workers")
        ids = [submit(alice, steps=20, delay=0.05) for _ in range(8)]
        wait_for(lambda: any(job(alice, j)["progress"] > 0 for j in ids), 30, "a job running")
        broker.kill()  # the queued messages and the unacknowledged ones are gone with it
        time.sleep(2)
        ids += [submit(alice, steps=3) for _ in range(2)]  # accepted while the broker is down
        broker.start()
        ids += [submit(alice, steps=3) for _ in range(2)]
        done = wait_all_final(alice, ids, 120)
        failed = {j: v["error"] for j, v in done.items() if v["state"] != "succeeded"}
        assert not failed, failed
        assert any(v["attempt"] > 1 for v in done.values())  # lost messages were re-dispatched
        assert_ledger(service.env["DATABASE_URL"], ids)
    finally:
        service.close()
        broker.kill()
        drop_keys(broker.url, run) if broker.proc and broker.proc.poll() is None else None


def test_a_celery_pool_child_killed_mid_job(make) -> None:  # type: ignore[no-untyped-def]
    """What the OOM killer does: only the pool child dies; the message is requeued at once
    (task_reject_on_worker_lost) and the job still ends once."""
    import psutil

    from cluster_support import REDIS_DB, redis_up

    if not redis_up():
        pytest.skip(f"Redis at {REDIS_DB} is not reachable")
    run = uuid.uuid4().hex[:6]
    queue = f"c{run}gpu0"
    service = make(BROKER_URL=REDIS_DB)
    try:
        service.start_worker(queue, service.start_instance())
        service.start_server()
        alice = service.client(service.token("alice"))
        wait_for(lambda: alice.get("/api/health").json()["instances_up"] == 1, 60, "the worker")
        slow = submit(alice, steps=40, delay=0.05)
        wait_for(lambda: job(alice, slow)["progress"] > 0.1, 30, "progress")
        main = psutil.Process(service.workers[queue].proc.pid)  # type: ignore[union-attr]
        children = [p for p in main.children(recursive=True) if p.is_running()]
        assert children, "the worker has no pool child"
        for child in children:
            os.kill(child.pid, signal.SIGKILL)
        after = submit(alice, steps=3)
        done = wait_all_final(alice, [slow, after], 60)
        assert all(j["state"] == "succeeded" for j in done.values()), done
        assert main.is_running()  # the worker itself lived on
        assert_ledger(service.env["DATABASE_URL"], [slow, after])
    finally:
        service.close()
        drop_keys(REDIS_DB, run)

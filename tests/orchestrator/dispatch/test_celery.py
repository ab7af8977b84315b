"""The Celery executor: real Redis (database 13, private queue names), real `wan-i2v worker` processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import HERE, ROOT, WORKFLOWS
from helpers import async_wait_until, saved_videos, snapshot, wait_until

from orchestrator.dispatch import build_dispatcher
from orchestrator.dispatch.celery_app import TASK_NAME

BROKER = "redis://127.0.0.1:6379/13"

pytestmark = pytest.mark.e2e


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(BROKER, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


class Workers:
    def __init__(self, tmp: Path, settings, db_url: str) -> None:
        self.tmp, self.settings, self.db_url = tmp, settings, db_url
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def env(self) -> dict[str, str]:
        s = self.settings
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)]),
            "WAN_WORKFLOWS_DIR": str(WORKFLOWS),
            "WAN_I2V_STORE_FACTORY": "worker_store:make",
            "TEST_DATABASE_URL": self.db_url,
            "TEST_BROKER_URL": BROKER,
            "TEST_VIDEOS_DIR": str(s.VIDEOS_DIR),
        }
        for name in ("JOB_TIMEOUT_S", "PROGRESS_SILENCE_S", "HEARTBEAT_S", "HEARTBEAT_STALE_S", "DISPATCH_POLL_S"):
            env[f"TEST_{name}"] = str(getattr(s, name))
        return env

    def start(self, queue: str, url: str) -> None:
        log = self.tmp / f"{queue}.log"
        self.logs[queue] = log
        self.procs[queue] = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.cli.main", "worker", "--comfy", url, "--queue", queue],
            cwd=ROOT, env=self.env(), stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
        )

    def sigkill(self, queue: str) -> None:
        proc = self.procs[queue]
        os.killpg(proc.pid, signal.SIGKILL)  # the main process and its pool children
        proc.wait(10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def celery_setup(tmp_path, instances, store, db_url, settings, reaper):
    if not _redis_up():
        pytest.skip("Redis at 127.0.0.1:6379 is not reachable")
    settings.BROKER_URL = BROKER
    run = uuid.uuid4().hex[:8]
    urls = instances.start(2)
    queues = [f"t{run}gpu{i}" for i in range(2)]
    workers = Workers(tmp_path, settings, db_url)
    for queue, url in zip(queues, urls):
        workers.start(queue, url)
    try:
        wait_until(lambda: sum(i.state == "up" for i in store.list_instances()) == 2, timeout=60, what="workers up")
        yield workers, queues, urls
    finally:
        workers.stop()
        import redis

        redis.Redis.from_url(BROKER).delete(*queues)  # only this run's queues


def _run(store, settings, reaper, body):
    async def main():
        dispatcher = build_dispatcher(settings, store, reaper=reaper, poll_s=0.1, refresh_s=0.2, reap_s=0.2)
        await dispatcher.start()
        try:
            return await body(dispatcher)
        finally:
            await dispatcher.stop()

    return asyncio.run(main())


def test_celery_jobs_use_both_instances_and_ignore_late_duplicates(celery_setup, store, settings, reaper, make_job, instances):
    workers, queues, _ = celery_setup
    jobs = [make_job(user=u, steps=4, delay=0.05) for u in ("alice", "bob", "alice", "bob")]

    async def body(dispatcher):
        dispatcher.wake()
        await async_wait_until(lambda: all(store.get_job(j.id).state == "succeeded" for j in jobs), 60, "jobs done")

    _run(store, settings, reaper, body)
    done = [store.get_job(j.id) for j in jobs]
    assert {j.instance_id for j in done} == set(queues)
    assert all(Path(o["path"]).exists() for j in done for o in j.outputs)

    # A late duplicate delivery of a finished attempt changes nothing and runs nothing.
    job = done[0]
    events = len(store.events(job.id))
    app = build_dispatcher(settings, store).executor.app
    app.send_task(TASK_NAME, args=(job.id, job.attempt), queue=job.instance_id)
    wait_until(lambda: ": 'stale'" in workers.logs[job.instance_id].read_text(), 30, "the duplicate to be handled")
    assert snapshot(store.get_job(job.id)) == snapshot(job) and len(store.events(job.id)) == events
    data = {q: i.data for q, i in zip(queues, instances.started)}
    assert len(saved_videos(data[job.instance_id], job.id)) == 1


def test_sigkilled_worker_job_is_redispatched_by_the_reaper(celery_setup, store, settings, reaper, make_job):
    workers, queues, _ = celery_setup
    job = make_job(steps=200, delay=0.05)  # about 10 s of work

    async def body(dispatcher):
        dispatcher.wake()
        await async_wait_until(lambda: (store.get_job(job.id).progress or 0) > 0, 30, "the job to run")
        victim = store.get_job(job.id).instance_id
        await asyncio.to_thread(workers.sigkill, victim)
        start = asyncio.get_running_loop().time()
        await async_wait_until(lambda: store.get_job(job.id).attempt == 2, 30, "a second attempt")
        redispatch_s = asyncio.get_running_loop().time() - start
        await async_wait_until(lambda: store.get_job(job.id).state == "succeeded", 60, "the job to finish")
        return victim, redispatch_s

    victim, redispatch_s = _run(store, settings, reaper, body)
    final = store.get_job(job.id)
    assert final.attempt == 2 and final.instance_id != victim
    assert redispatch_s < 15  # the reaper's seconds, not the broker's visibility timeout (an hour)
    assert [e.data["state"] for e in store.events(job.id)].count("succeeded") == 1

"""Dispatch overhead with trivial-node workflows on loopback instances.

For each executor (local; celery when Redis answers at --broker):
  - idle gap: on one instance with a queue waiting, the time between one job's end and
    the next one's start, from ComfyUI's own execution timestamps (median and max);
  - throughput with 1, 2 and 4 instances, as jobs per second and as a ratio to N x one instance.

Each job ticks --steps times with --delay seconds per tick (about --steps x --delay of "GPU" time).
The job store is the service's own (SQLite, migrated).

    python bench/bench_dispatch.py [--jobs 24] [--steps 10] [--delay 0.02] [--no-celery]

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests" / "orchestrator" / "dispatch"
sys.path.insert(0, str(TESTS))
os.environ["WAN_WORKFLOWS_DIR"] = str(TESTS / "workflows")

from conftest import Instances  # noqa: E402
from PIL import Image  # noqa: E402
from test_celery import Workers  # noqa: E402

from orchestrator.core.db import session_factory, upgrade  # noqa: E402
from orchestrator.dispatch import build_dispatcher  # noqa: E402
from orchestrator.jobs.reaper import reap  # noqa: E402
from orchestrator.jobs.store import JobStore  # noqa: E402
from orchestrator.users.store import UserStore  # noqa: E402


def _settings(tmp: Path, broker: str = "") -> SimpleNamespace:
    return SimpleNamespace(
        VIDEOS_DIR=tmp / "videos", JOB_TIMEOUT_S=120.0, PROGRESS_SILENCE_S=60.0, HEARTBEAT_S=0.5,
        HEARTBEAT_STALE_S=10.0, RETRY_LIMIT=3, DISPATCH_POLL_S=1.0, BROKER_URL=broker,
    )


def _run_batch(store: JobStore, settings, urls: list[str], jobs: int, steps: int, delay: float) -> tuple[float, list]:
    image = Path(settings.VIDEOS_DIR).parent / "start.png"
    Image.new("RGB", (8, 8)).save(image)
    users = UserStore(store.factory)
    owners = [(users.by_name(f"u{k}") or users.add(f"u{k}", "bench-password")).id for k in range(3)]
    ids = [store.create_job(owners[i % 3], "dispatch_test", {"steps": steps, "delay": delay, "seed": i}, str(image), seed=i).id
           for i in range(jobs)]

    async def main() -> float:
        dispatcher = build_dispatcher(settings, store, urls or None, reaper=reap, poll_s=0.05)
        await dispatcher.start()
        start = time.perf_counter()
        try:
            while not all(store.get_job(i).state in ("succeeded", "failed") for i in ids):
                await asyncio.sleep(0.02)
            return time.perf_counter() - start
        finally:
            await dispatcher.stop()

    wall = asyncio.run(main())
    done = [store.get_job(i) for i in ids]
    failed = [j.error for j in done if j.state != "succeeded"]
    if failed:
        raise SystemExit(f"{len(failed)} jobs failed: {failed[0]}")
    return wall, done


def _gaps(done: list) -> tuple[list[float], list[float]]:
    """Per instance: seconds between a job's end and the next job's start (ComfyUI's clocks), and how
    much of each gap the dispatcher caused (the next prompt not yet submitted when the previous ended)."""
    by_instance: dict[str, list[tuple[datetime, datetime, datetime]]] = {}
    for job in done:
        t = job.timings
        by_instance.setdefault(t["instance"], []).append(
            tuple(datetime.fromisoformat(t[k]) for k in ("started", "finished", "submitted"))
        )
    gaps, waits = [], []
    for spans in by_instance.values():
        spans.sort()
        for a, b in zip(spans, spans[1:]):
            gaps.append((b[0] - a[1]).total_seconds())
            waits.append(max(0.0, (b[2] - a[1]).total_seconds()))
    return gaps, waits


def _server_baseline(url: str, data: Path, jobs: int, steps: int, delay: float) -> list[float]:
    """The same gaps with every prompt queued straight into ComfyUI: the server's own cost between prompts."""
    from orchestrator.comfy.client import ComfyClient
    from orchestrator.workflows import bind, get_workflow

    (data / "input").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8)).save(data / "input" / "base.png")
    workflow = get_workflow("dispatch_test")

    async def main() -> list[float]:
        async with ComfyClient(url) as c:
            ids = [uuid.uuid4().hex for _ in range(jobs)]
            for i, pid in enumerate(ids):
                await c.submit(bind(workflow, {"steps": steps, "delay": delay, "seed": 1000 + i}, image="base.png"), pid, "bench")
            while await c.queue_remaining():
                await asyncio.sleep(0.02)
            spans = []
            for pid in ids:
                stamps = {m[0]: m[1]["timestamp"] for m in (await c.history(pid))["status"]["messages"]}
                spans.append((stamps["execution_start"], stamps["execution_success"]))
            await c.delete_history(ids)
        return [(b[0] - a[1]) / 1000 for a, b in zip(spans, spans[1:])]

    return asyncio.run(main())


class Setup:
    def __init__(self, executor: str, broker: str, n: int, tmp: Path) -> None:
        self.tmp = tmp / f"{executor}-{n}-{uuid.uuid4().hex[:6]}"
        self.tmp.mkdir()
        self.db_url = f"sqlite:///{self.tmp / 'jobs.db'}"
        upgrade(self.db_url)
        self.store = JobStore(session_factory(self.db_url))
        self.settings = _settings(self.tmp, broker if executor == "celery" else "")
        self.instances = Instances(self.tmp / "instances")
        self.urls = self.instances.start(n)
        self.workers = None
        if executor == "celery":
            self.settings.BROKER_URL = broker
            self.workers = Workers(self.tmp, self.settings, self.db_url)
            self.queues = [f"b{uuid.uuid4().hex[:6]}gpu{i}" for i in range(n)]
            for queue, url in zip(self.queues, self.urls):
                self.workers.start(queue, url)
            deadline = time.monotonic() + 60
            while sum(i.state == "up" for i in self.store.list_instances()) < n:
                if time.monotonic() > deadline:
                    raise SystemExit("celery workers did not come up")
                time.sleep(0.1)
            self.urls = []

    def close(self) -> None:
        if self.workers is not None:
            self.workers.stop()
            import redis

            redis.Redis.from_url(self.settings.BROKER_URL).delete(*self.queues)
        for inst in self.instances.started:
            inst.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=24, help="Jobs per instance count (throughput).")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--delay", type=float, default=0.02)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--no-celery", action="store_true")
    args = parser.parse_args()
    executors = ["local"] + ([] if args.no_celery else ["celery"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for executor in executors:
            rates: dict[int, float] = {}
            gap_text = ""
            for n in (1, 2, 4):
                setup = Setup(executor, args.broker, n, tmp)
                try:
                    wall, done = _run_batch(setup.store, setup.settings, setup.urls, args.jobs * n // 2 or 1, args.steps, args.delay)
                    if n == 1:
                        url = setup.instances.started[0].url
                        base = _server_baseline(url, setup.instances.started[0].data, args.jobs // 2, args.steps, args.delay)
                finally:
                    setup.close()
                rates[n] = len(done) / wall
                if n == 1:
                    gaps, waits = _gaps(done)
                    gap_text = (
                        f"{statistics.median(gaps) * 1000:.1f} ms median ({max(gaps) * 1000:.1f} max); server alone "
                        f"{statistics.median(base) * 1000:.1f} ms; caused by dispatch {statistics.median(waits) * 1000:.1f} ms "
                        f"median ({max(waits) * 1000:.1f} max)"
                    )
                print(f"{executor}: {n} instance(s): {len(done)} jobs in {wall:.2f} s", file=sys.stderr)
            for n in (1, 2, 4):
                ratio = rates[n] / (n * rates[1])
                rows.append((executor, n, rates[n], ratio, gap_text if n == 1 else ""))
    job_s = args.steps * args.delay
    print(f"Dispatch, trivial nodes, ~{job_s:.2f} s per job, {platform.machine()} {os.cpu_count()} cores, "
          f"{args.jobs // 2} jobs per instance\n")
    print("| executor | instances | jobs/s | vs N x one instance | idle gap (1 instance, queue waiting) |")
    print("|---|---|---|---|---|")
    for executor, n, rate, ratio, gap in rows:
        print(f"| {executor} | {n} | {rate:.2f} | {ratio:.2f} | {gap} |")


if __name__ == "__main__":
    main()

"""Load: 200 concurrent clients polling job status and streaming job events while jobs run.

Starts `wan-i2v serve` (local executor, SQLite or --postgres) with two trivial-node instances, keeps
jobs flowing through them, and from this process (a second process on loopback) runs --clients
clients for --seconds: three quarters poll GET /api/status/{id} every --poll-s, one quarter stream
GET /api/jobs/{id}/events to the end and open the next. Reports p50/p99 latency of the polls, time to
the first event of a stream, the error rate, and the orchestrator's RSS at the start, middle and end.

    python bench/bench_load.py [--clients 200] [--seconds 60] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psutil
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
for extra in ("tests/orchestrator/api", "tests/reliability"):
    sys.path.insert(0, str(ROOT / extra))

from reliability_support import png  # noqa: E402
from service_support import TRIVIAL_WORKFLOWS, Service, service_env  # noqa: E402

from orchestrator.core.db import get_engine, normalize_url, upgrade  # noqa: E402

IMAGE = png()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Load:
    def __init__(self, url: str, token: str, seconds: float, poll_s: float) -> None:
        self.url, self.token, self.seconds, self.poll_s = url, token, seconds, poll_s
        self.jobs: list[str] = []
        self.poll_ms: list[float] = []
        self.first_event_ms: list[float] = []
        self.streams_done = 0
        self.requests = 0
        self.errors: dict[str, int] = {}
        self.end = 0.0

    def _error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    async def feeder(self, c: httpx.AsyncClient) -> None:
        """Keeps about 8 jobs waiting or running (about 1 s of ticks each)."""
        while time.monotonic() < self.end:
            try:
                page = (await c.get("/api/jobs", params={"page_size": 20})).json()["items"]
                active = sum(1 for j in page if j["state"] in ("queued", "running"))
                for _ in range(max(0, 8 - active)):
                    r = await c.post("/api/generate", data={"workflow": "dispatch_test", "steps": "20",
                                                            "delay": "0.05", "seed": "-1"},
                                     files={"image": ("in.png", IMAGE, "image/png")})
                    if r.status_code == 202:
                        self.jobs.append(r.json()["job_id"])
                    else:
                        self._error(f"submit {r.status_code}")
            except httpx.HTTPError as exc:
                self._error(f"submit {type(exc).__name__}")
            await asyncio.sleep(0.5)

    async def poller(self, c: httpx.AsyncClient, i: int) -> None:
        await asyncio.sleep(i * self.poll_s / 150)  # spread the first requests
        while time.monotonic() < self.end:
            if self.jobs:
                job_id = self.jobs[-1 - (i % min(len(self.jobs), 10))]
                t0 = time.perf_counter()
                try:
                    r = await c.get(f"/api/status/{job_id}")
                    self.requests += 1
                    if r.status_code != 200:
                        self._error(f"status {r.status_code}")
                    else:
                        self.poll_ms.append((time.perf_counter() - t0) * 1000)
                except httpx.HTTPError as exc:
                    self.requests += 1
                    self._error(f"status {type(exc).__name__}")
            await asyncio.sleep(self.poll_s)

    async def streamer(self, c: httpx.AsyncClient, i: int) -> None:
        await asyncio.sleep(i * 0.02)
        while time.monotonic() < self.end:
            if not self.jobs:
                await asyncio.sleep(0.2)
                continue
            job_id = self.jobs[-1 - (i % min(len(self.jobs), 8))]
            t0 = time.perf_counter()
            first = True
            try:
                async with c.stream("GET", f"/api/jobs/{job_id}/events",
                                    timeout=httpx.Timeout(30, read=30)) as r:
                    self.requests += 1
                    if r.status_code != 200:
                        self._error(f"events {r.status_code}")
                        continue
                    async for line in r.aiter_lines():
                        if first and line.startswith("id:"):
                            self.first_event_ms.append((time.perf_counter() - t0) * 1000)
                            first = False
                        if line.startswith("event: end"):
                            self.streams_done += 1
                            break
                        if time.monotonic() > self.end:
                            break
            except httpx.HTTPError as exc:
                self.requests += 1
                self._error(f"events {type(exc).__name__}")

    async def run(self, clients: int) -> None:
        self.end = time.monotonic() + self.seconds
        limits = httpx.Limits(max_connections=clients + 20, max_keepalive_connections=clients + 20)
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=self.url, headers=headers, limits=limits, timeout=30) as c:
            streams = clients // 4
            await asyncio.gather(self.feeder(c), *(self.poller(c, i) for i in range(clients - streams)),
                                 *(self.streamer(c, i) for i in range(streams)))


async def _rss_sampler(pid: int, seconds: float, out: list[tuple[float, float]]) -> None:
    proc = psutil.Process(pid)
    start = time.monotonic()
    while time.monotonic() - start < seconds + 1:
        out.append((time.monotonic() - start, proc.memory_info().rss / 2**20))
        await asyncio.sleep(1)


async def _measure(load: Load, pid: int, clients: int) -> list[tuple[float, float]]:
    rss: list[tuple[float, float]] = []
    await asyncio.gather(load.run(clients), _rss_sampler(pid, load.seconds, rss))
    return rss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--poll-s", type=float, default=1.0)
    ap.add_argument("--postgres", default="", help="a PostgreSQL URL (a private schema is made and dropped)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wan-load-"))
    schema = db = None
    if args.postgres:
        schema = f"load_{uuid.uuid4().hex[:10]}"
        with create_engine(normalize_url(args.postgres), isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        db = f"{args.postgres}{'&' if '?' in args.postgres else '?'}options=-csearch_path%3D{schema}"
        upgrade(db)
    env = service_env(tmp, WAN_WORKFLOWS_DIR=str(TRIVIAL_WORKFLOWS), HEARTBEAT_S="1", HEARTBEAT_STALE_S="10",
                      **({"DATABASE_URL": db} if db else {}))
    service = Service(tmp, env)
    try:
        for _ in range(2):
            service.start_instance()
        service.add_user("alice")
        service.start_server()
        token = service.token("alice")
        pid = service.server.proc.pid  # type: ignore[union-attr]
        # Warm up: a first job end to end, so the start figure is a running service.
        with service.client(token) as c:
            c.post("/api/generate", data={"workflow": "dispatch_test", "steps": "2"},
                   files={"image": ("in.png", IMAGE, "image/png")})
        time.sleep(3)
        load = Load(service.url, token, args.seconds, args.poll_s)
        server_cpu0, own_cpu0, wall0 = sum(psutil.Process(pid).cpu_times()[:2]), sum(os.times()[:2]), time.time()
        rss = asyncio.run(_measure(load, pid, args.clients))
        wall = time.time() - wall0
        server_cpu = (sum(psutil.Process(pid).cpu_times()[:2]) - server_cpu0) / wall * 100
        own_cpu = (sum(os.times()[:2]) - own_cpu0) / wall * 100
        with service.client(token) as c:
            total = c.get("/api/jobs", params={"page_size": 1}).json()["total"]
        errors = sum(load.errors.values())
        print(f"## Load (`bench/bench_load.py --clients {args.clients} --seconds {args.seconds:g}"
              f"{' --postgres' if db else ''}`)\n")
        print(f"Database: {'PostgreSQL' if db else 'SQLite'}; local executor, 2 trivial-node instances; "
              f"{args.clients - args.clients // 4} pollers (every {args.poll_s:g} s) and {args.clients // 4} "
              "event streams from a second process on loopback.\n")
        print("| figure | value |\n|---|---|")
        print(f"| status polls | {len(load.poll_ms)} ({len(load.poll_ms) / args.seconds:.0f}/s) |")
        print(f"| status latency p50 / p99 / max | {statistics.median(load.poll_ms):.1f} / "
              f"{_pct(load.poll_ms, 0.99):.1f} / {max(load.poll_ms):.1f} ms |")
        print(f"| event streams: first event p50 / p99 | {statistics.median(load.first_event_ms):.1f} / "
              f"{_pct(load.first_event_ms, 0.99):.1f} ms ({len(load.first_event_ms)} streams, "
              f"{load.streams_done} followed to `end`) |")
        print(f"| errors | {errors} of {load.requests} requests ({100 * errors / max(1, load.requests):.2f} %)"
              f"{' ' + str(load.errors) if errors else ''} |")
        print(f"| jobs run meanwhile | {len(load.jobs)} submitted, {total} in the database |")
        print(f"| CPU: orchestrator / this load generator | {server_cpu:.0f} % / {own_cpu:.0f} % of one core |")
        print(f"| machine load average (1 min) at the end | {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores |")
        third = max(1, len(rss) // 2)
        print(f"| orchestrator RSS start / middle / end | {rss[0][1]:.0f} / {rss[third][1]:.0f} / "
              f"{rss[-1][1]:.0f} MiB |")
    finally:
        service.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if schema:
            get_engine(db).dispose()  # type: ignore[arg-type]
            with create_engine(normalize_url(args.postgres), isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()

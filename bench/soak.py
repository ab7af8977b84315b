"""Soak: many trivial jobs across 3 instances while instances, Celery workers and an orchestrator are
SIGKILLed at random; then the ledger is checked and the figures printed.

Two `wan-i2v serve` replicas share a private PostgreSQL schema and a Redis database; one Celery worker
per instance. Jobs go in through either replica at a steady rate; every few seconds one process is
SIGKILLed and restarted a little later (an instance on the same port, a worker on the same queue, a
replica on the same port). At the end every job must be succeeded or failed with a reason, with exactly
one terminal event.

    python bench/soak.py [--jobs 300] [--kill-every 5] [--postgres URL] [--redis redis://127.0.0.1:6379/14]

Prints a markdown report: counts, attempts, the longest gap without a finished job while work was
waiting, and the slowest recovery (a kill until the next attempt of a job it interrupted starts running).
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
for extra in ("tests/orchestrator/api", "tests/reliability", "tests/orchestrator"):
    sys.path.insert(0, str(ROOT / extra))

from cluster_support import Replica, drop_keys, make_cluster  # noqa: E402
from reliability_support import png  # noqa: E402
from service_support import Proc, wait_for  # noqa: E402

from orchestrator.core.db import get_engine, normalize_url, session_factory, upgrade  # noqa: E402
from orchestrator.jobs.models import FINAL  # noqa: E402
from orchestrator.jobs.store import JobStore  # noqa: E402


def _schema(postgres: str) -> tuple[str, str]:
    schema = f"soak_{uuid.uuid4().hex[:10]}"
    with create_engine(normalize_url(postgres), isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in postgres else "?"
    url = f"{postgres}{sep}options=-csearch_path%3D{schema}"
    upgrade(url)
    return schema, url


def _drop_schema(postgres: str, schema: str, url: str) -> None:
    get_engine(url).dispose()
    with create_engine(normalize_url(postgres), isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def _submit(client: httpx.Client, rng: random.Random) -> str | None:
    data = {"workflow": "dispatch_test", "steps": str(rng.randint(3, 8)), "delay": "0.02", "seed": "-1"}
    try:
        r = client.post("/api/generate", data=data, files={"image": ("in.png", png(), "image/png")}, timeout=10)
    except httpx.HTTPError:
        return None
    return r.json()["job_id"] if r.status_code == 202 else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=300)
    ap.add_argument("--kill-every", type=float, default=5.0, help="seconds between kills (randomised +-50%%)")
    ap.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    schema, db = _schema(args.postgres)
    tmp = Path(tempfile.mkdtemp(prefix="wan-soak-"))
    settings = dict(HEARTBEAT_S="0.5", HEARTBEAT_STALE_S="5", UNREACHABLE_S="4", RETRY_LIMIT="5",
                    DISPATCH_POLL_S="0.2", JOB_TIMEOUT_S="60")
    cluster = make_cluster(tmp, db, args.redis, instances=3, **settings)
    kills: list[tuple[float, str, str]] = []  # (time, kind, which)
    ids: list[str] = []
    try:
        replicas = [cluster.start_replica(), cluster.start_replica()]
        token = cluster.token(replicas[0], "alice")
        clients = [cluster.client(r, token) for r in replicas]
        wait_for(lambda: clients[0].get("/api/health").json()["instances_up"] == 3, 60, "three workers")
        started = time.time()
        service = cluster.service
        instance_ports = [int(u.rsplit(":", 1)[1]) for u in service.urls]
        dead: list[tuple[float, str, int]] = []  # (restart at, kind, index)
        next_kill = time.time() + args.kill_every
        per_s = 4.0
        while len(ids) < args.jobs or dead:
            now = time.time()
            if len(ids) < args.jobs:
                alive = [c for c, r in zip(clients, replicas) if r.proc.proc and r.proc.proc.poll() is None]
                job_id = _submit(rng.choice(alive), rng) if alive else None
                if job_id:
                    ids.append(job_id)
            if now >= next_kill and len(ids) < args.jobs:
                kind = rng.choice(["instance", "worker", "orchestrator"])
                busy = {k for _, k, _ in dead}
                if kind not in busy:
                    index = rng.randrange(3 if kind != "orchestrator" else 2)
                    if kind == "instance":
                        service.instances[index].kill()
                    elif kind == "worker":
                        service.workers[cluster.queue(index)].kill()
                    else:
                        replicas[index].proc.kill()
                    kills.append((time.time(), kind, str(index)))
                    dead.append((time.time() + rng.uniform(1.0, 4.0), kind, index))
                next_kill = now + args.kill_every * rng.uniform(0.5, 1.5)
            for entry in [d for d in dead if d[0] <= now]:
                dead.remove(entry)
                _, kind, index = entry
                if kind == "instance":
                    _restart_instance(service, index, instance_ports[index])
                elif kind == "worker":
                    service.start_worker(cluster.queue(index), service.urls[index])
                else:
                    cluster.replicas.remove(replicas[index])
                    replicas[index] = cluster.start_replica(replicas[index].port)
                    clients[index] = cluster.client(replicas[index], token)
            time.sleep(1 / per_s)
        submitted_s = time.time() - started
        store = JobStore(session_factory(db))
        deadline = time.time() + args.timeout
        while time.time() < deadline:
            if all(j.state in FINAL for j in (store.get_job(i) for i in ids)):
                break
            time.sleep(1)
        _report(store, ids, kills, settings, args, time.time() - started, submitted_s)
    finally:
        cluster.close()
        drop_keys(args.redis, cluster.run)
        _drop_schema(args.postgres, schema, db)
        shutil.rmtree(tmp, ignore_errors=True)


def _restart_instance(service, index: int, port: int) -> None:  # type: ignore[no-untyped-def]
    old = service.instances[index]
    proc = Proc(old.argv, old.env, old.log)
    proc.start()
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: httpx.get(url + "/system_stats", timeout=2).status_code == 200, 30, f"instance {url}")
    service.instances[index] = proc


def _ts(value: datetime) -> float:
    return value.timestamp()


def _report(store: JobStore, ids: list[str], kills: list[tuple[float, str, str]], settings: dict[str, str],
            args: argparse.Namespace, total_s: float, submitted_s: float) -> None:
    jobs = [store.get_job(i) for i in ids]
    states = Counter(j.state for j in jobs)
    attempts = Counter(j.attempt for j in jobs)
    problems = []
    recoveries = []
    for j in jobs:
        events = store.events(j.id)
        terminal = [e for e in events if e.kind == "state" and e.state in FINAL]
        if len(terminal) != 1:
            problems.append(f"{j.id}: {len(terminal)} terminal events")
        if j.state == "failed" and not (j.error or "").strip():
            problems.append(f"{j.id}: failed without a reason")
        runs = [e for e in events if e.kind == "state" and e.state == "running"]
        backs = [e for e in events if e.kind == "state" and e.state == "queued" and e.attempt > 0]
        for back in backs:  # a hand-back: from the kill that caused it to the next attempt running
            cause = max((k for k in kills if k[0] <= _ts(back.created_at)), default=None, key=lambda k: k[0])
            after = next((r for r in runs if r.attempt > back.attempt), None)
            if cause is not None and after is not None:
                recoveries.append((_ts(after.created_at) - cause[0], cause[1]))
    finished = sorted(_ts(j.finished_at) for j in jobs if j.finished_at)
    first_created = min(_ts(j.created_at) for j in jobs)
    gap_points = [first_created, *finished]
    longest_gap = max((b - a for a, b in zip(gap_points, gap_points[1:])), default=0.0)
    kinds = Counter(k for _, k, _ in kills)
    print(f"## Soak (`bench/soak.py --jobs {args.jobs} --kill-every {args.kill_every:g}`)\n")
    print(f"Settings: {', '.join(f'{k}={v}' for k, v in settings.items())}; 3 instances, 3 Celery workers, "
          "2 orchestrator replicas on PostgreSQL and Redis.\n")
    print("| figure | value |\n|---|---|")
    print(f"| jobs submitted | {len(ids)} (in {submitted_s:.0f} s; all ended {total_s:.0f} s after the start) |")
    print(f"| states | {', '.join(f'{k} {v}' for k, v in sorted(states.items()))} |")
    print(f"| attempts per job | {', '.join(f'{k}: {v}' for k, v in sorted(attempts.items()))} |")
    print(f"| kills | {len(kills)} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}) |")
    print(f"| ledger problems (lost, twice, no reason) | {len(problems)} |")
    print(f"| longest gap between two finished jobs | {longest_gap:.1f} s |")
    if recoveries:
        worst = max(recoveries)
        print(f"| recoveries (kill -> next attempt running) | {len(recoveries)}: median "
              f"{statistics.median(r for r, _ in recoveries):.1f} s, slowest {worst[0]:.1f} s (after a {worst[1]} kill) |")
    failed = Counter((j.error or "")[:90] for j in jobs if j.state == "failed")
    for reason, n in failed.most_common(5):
        print(f"| failed: {reason} | {n} |")
    for p in problems[:10]:
        print(f"| problem | {p} |")


if __name__ == "__main__":
    main()

"""API latency under concurrent clients: p50/p99 of GET /api/status/{id} and POST /api/generate.

Starts `wan-i2v serve` (one uvicorn process, no ComfyUI instance: jobs stay queued, so only
the API and the database are measured) on SQLite and, when reachable, on the PostgreSQL at
--postgres, then runs --clients concurrent clients from this process (httpx, asyncio).

    python bench/bench_api.py [--clients 100] [--requests 20] [--postgres URL | --no-postgres]

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "orchestrator"))
sys.path.insert(0, str(ROOT / "tests" / "orchestrator" / "api"))

from service_support import free_port, service_env, wait_for  # noqa: E402


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 40, 60)).save(out, "PNG")
    return out.getvalue()


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] * 1000


async def _load(url: str, token: str, clients: int, requests: int, kind: str, job_id: str) -> tuple[list[float], int]:
    image = _png()
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60,
                                 limits=limits) as c:
        async def one_client() -> None:
            nonlocal errors
            for _ in range(requests):
                start = time.perf_counter()
                try:
                    if kind == "status":
                        r = await c.get(f"/api/status/{job_id}")
                        ok = r.status_code == 200
                    else:
                        r = await c.post("/api/generate", data={"prompt": "bench", "steps": "2", "seed": "-1"},
                                         files={"image": ("in.png", image, "image/png")})
                        ok = r.status_code == 202
                except httpx.TransportError:  # a connection the server reset: an error, not the end of the run
                    ok = False
                latencies.append(time.perf_counter() - start)
                errors += not ok

        await asyncio.gather(*(one_client() for _ in range(clients)))
    return latencies, errors


def _measure(db_url: str, label: str, clients: int, requests: int) -> list[str]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    port = free_port()
    env = service_env(tmp, DATABASE_URL=db_url, EMBEDDED_COMFY="0", COMFYUI_URLS="", LOGIN_RATE_LIMIT="0")
    subprocess.run([sys.executable, "-m", "orchestrator.cli.main", "users", "add", "bench", "--password",
                    "bench-password"], cwd=ROOT, env=env, check=True, capture_output=True)
    server = subprocess.Popen([sys.executable, "-m", "orchestrator.cli.main", "serve", "--port", str(port),
                               "--embedded", "0"], cwd=ROOT, env=env, stdout=(tmp / "serve.log").open("w"),
                              stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        wait_for(lambda: httpx.get(url + "/api/health", timeout=2).status_code == 200, 60, "the orchestrator")
        token = httpx.post(url + "/api/auth/login", json={"username": "bench", "password": "bench-password"}).json()[
            "access_token"]
        first = httpx.post(url + "/api/generate", headers={"Authorization": f"Bearer {token}"},
                           data={"prompt": "x"}, files={"image": ("in.png", _png(), "image/png")}).json()["job_id"]
        for kind in ("status", "generate"):
            start = time.perf_counter()
            lat, errors = asyncio.run(_load(url, token, clients, requests, kind, first))
            wall = time.perf_counter() - start
            name = "GET /api/status/{id}" if kind == "status" else "POST /api/generate (64x48 PNG)"
            rows.append(f"| {label} | {name} | {clients} | {len(lat)} | {_pct(lat, 0.5):.1f} | {_pct(lat, 0.99):.1f} "
                        f"| {statistics.mean(lat) * 1000:.1f} | {len(lat) / wall:.0f} | {errors} |")
    finally:
        server.terminate()
        server.wait(15)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--requests", type=int, default=20, help="Requests per client and endpoint.")
    parser.add_argument("--postgres", default=os.environ.get("TEST_POSTGRES_URL",
                                                             "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    targets = [("SQLite", f"sqlite:///{tempfile.mkdtemp()}/bench.db")]
    schema_cleanup = None
    if not args.no_postgres:
        from sqlalchemy import create_engine, text

        from orchestrator.core.db import normalize_url

        schema = f"bench_{uuid.uuid4().hex[:8]}"
        try:
            admin = create_engine(normalize_url(args.postgres), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            sep = "&" if "?" in args.postgres else "?"
            targets.append(("PostgreSQL", f"{args.postgres}{sep}options=-csearch_path%3D{schema}"))
            schema_cleanup = (admin, schema)
        except Exception as exc:  # noqa: BLE001
            print(f"(PostgreSQL skipped: {exc})", file=sys.stderr)
    print(f"API latency, {args.clients} concurrent clients x {args.requests} requests each, one uvicorn process, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs\n")
    print("| database | request | clients | requests | p50 ms | p99 ms | mean ms | req/s | errors |")
    print("|---|---|---|---|---|---|---|---|---|")
    try:
        for label, url in targets:
            for row in _measure(url, label, args.clients, args.requests):
                print(row, flush=True)
    finally:
        if schema_cleanup:
            admin, schema = schema_cleanup
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()

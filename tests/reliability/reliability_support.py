"""Shared pieces of the reliability tests: a real API server in a thread, job submission and the
end-of-test ledger check (every job ended once, with a reason when it failed)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from api_support import make_settings, run_server
from orchestrator.api.app import create_app
from orchestrator.core.db import session_factory
from orchestrator.jobs.models import FINAL
from orchestrator.jobs.store import JobStore

PASSWORDS = {"alice": "alice-password", "bob": "bob-password", "root": "root-password"}


@dataclass
class LiveApi:
    url: str
    app: Any
    server: Any
    thread: Any

    @property
    def services(self):  # type: ignore[no-untyped-def]
        return self.app.state.services

    def login(self, name: str) -> str:
        r = httpx.post(self.url + "/api/auth/login", json={"username": name, "password": PASSWORDS[name]})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def start_api(tmp: Path, **overrides: object) -> LiveApi:
    """A real uvicorn server (no dispatch) over a fresh SQLite with alice, bob and root (admin)."""
    app = create_app(make_settings(tmp, **overrides), dispatch=False)
    users = app.state.services.users
    for name, password in PASSWORDS.items():
        users.add(name, password, role="admin" if name == "root" else "user")
    server, thread, url = run_server(app)
    return LiveApi(url, app, server, thread)


def png(color: tuple[int, int, int] = (10, 20, 30), size: int = 32) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), color).save(out, "PNG")
    return out.getvalue()


def submit(c: httpx.Client, steps: int = 3, delay: float = 0.0, silent: float = 0.0, seed: int = -1,
           color: tuple[int, int, int] = (10, 20, 30)) -> str:
    """A dispatch_test job (trivial nodes)."""
    data = {"workflow": "dispatch_test", "steps": str(steps), "delay": str(delay), "seed": str(seed)}
    if silent:
        data["silent"] = str(silent)
    r = c.post("/api/generate", data=data, files={"image": ("in.png", png(color), "image/png")})
    assert r.status_code == 202, r.text
    return r.json()["job_id"]


def job(c: httpx.Client, job_id: str) -> dict:
    r = c.get(f"/api/jobs/{job_id}")
    assert r.status_code == 200, r.text
    return r.json()


def wait_all_final(c: httpx.Client, ids: Iterable[str], timeout: float) -> dict[str, dict]:
    ids = list(ids)
    deadline = time.monotonic() + timeout
    last: dict[str, dict] = {}
    while time.monotonic() < deadline:
        try:
            last = {j: job(c, j) for j in ids}
        except httpx.HTTPError:
            time.sleep(0.2)
            continue
        if all(v["state"] in FINAL for v in last.values()):
            return last
        time.sleep(0.2)
    pending = {j: (v["state"], v["attempt"], v["error"]) for j, v in last.items() if v["state"] not in FINAL}
    raise AssertionError(f"jobs did not end in {timeout} s: {pending}")


def assert_ledger(database_url: str, ids: Iterable[str]) -> dict[str, list[str]]:
    """Each job has exactly one terminal event and its record is final; a failure carries a reason.
    Returns the state sequence of each job (for the test's own checks)."""
    store = JobStore(session_factory(database_url))
    sequences = {}
    for job_id in ids:
        record = store.get_job(job_id)
        assert record is not None, f"job {job_id} was lost"
        states = [e.state for e in store.events(job_id) if e.kind == "state"]
        terminal = [s for s in states if s in FINAL]
        assert len(terminal) == 1, f"job {job_id}: terminal events {terminal} (all: {states})"
        assert record.state == terminal[0], (record.state, states)
        if record.state == "failed":
            assert record.error and record.error.strip(), f"job {job_id} failed without a reason"
        sequences[job_id] = states
    return sequences

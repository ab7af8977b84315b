"""Dispatch fixtures: embedded instances in their own processes, a job store, settings, jobs."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from orchestrator.core.db import session_factory, upgrade  # noqa: E402
from orchestrator.jobs.reaper import reap  # noqa: E402
from orchestrator.jobs.store import JobStore  # noqa: E402
from orchestrator.users.store import UserStore  # noqa: E402

WORKFLOWS = HERE / "workflows"
ROOT = HERE.parents[2]


@pytest.fixture(autouse=True)
def dispatch_workflows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAN_WORKFLOWS_DIR", str(WORKFLOWS))


@dataclass
class InstanceProcess:
    data: Path
    port: int = 0
    proc: subprocess.Popen | None = None
    url: str = ""

    def start(self) -> str:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "instance_main.py"), str(self.data), str(self.port)],
            stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http://"):
            raise RuntimeError(f"instance did not start: {line!r}")
        self.url = line
        self.port = int(line.rsplit(":", 1)[1])
        return line

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Instances:
    root: Path
    started: list[InstanceProcess] = field(default_factory=list)

    def start(self, n: int = 1) -> list[str]:
        for _ in range(n):
            inst = InstanceProcess(self.root / f"inst{len(self.started)}")
            self.started.append(inst)
            inst.start()
        return [i.url for i in self.started[-n:]]


@pytest.fixture
def instances(tmp_path: Path) -> Iterator[Instances]:
    group = Instances(tmp_path / "instances")
    yield group
    for inst in group.started:
        inst.stop()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    upgrade(url)
    return url


@pytest.fixture
def store(db_url: str) -> JobStore:
    return JobStore(session_factory(db_url))


@pytest.fixture
def reaper() -> Any:
    return reap


@pytest.fixture
def settings(tmp_path: Path) -> SimpleNamespace:
    return SimpleNamespace(
        VIDEOS_DIR=tmp_path / "videos",
        JOB_TIMEOUT_S=30.0,
        PROGRESS_SILENCE_S=10.0,
        HEARTBEAT_S=0.2,
        HEARTBEAT_STALE_S=2.0,
        RETRY_LIMIT=3,
        DISPATCH_POLL_S=0.2,
        BROKER_URL="",
    )


@pytest.fixture
def make_job(store: JobStore, db_url: str, tmp_path: Path) -> Any:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    users = UserStore(session_factory(db_url))

    def user_id(name: str) -> str:
        user = users.by_name(name) or users.add(name, "password-" + name)
        return user.id

    def make(user: str = "alice", seed: int = 7, **params: Any) -> Any:
        image = uploads / f"{user}-{len(list(uploads.iterdir()))}.png"
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), (10, 20, 30)).save(buffer, "PNG")
        image.write_bytes(buffer.getvalue())
        return store.create_job(user_id(user), "dispatch_test", {"seed": seed, **params}, str(image), seed=seed)

    return make

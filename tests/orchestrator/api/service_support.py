"""The whole service in processes, as a user runs it: `wan-i2v serve`, `wan-i2v worker`, `wan-i2v users`,
with trivial-node ComfyUI-compatible instances (tests/orchestrator/dispatch) or the demo model."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[3]
DISPATCH = ROOT / "tests" / "orchestrator" / "dispatch"
TRIVIAL_WORKFLOWS = DISPATCH / "workflows"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orchestrator.cli.main", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def wait_for(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Proc:
    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=self.log.open("a"),
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Service:
    """One orchestrator (restartable), its ComfyUI instances and optional Celery workers."""

    tmp: Path
    env: dict[str, str]
    port: int = 0
    instances: list[Proc] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    workers: dict[str, Proc] = field(default_factory=dict)
    server: Proc | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_instance(self, port: int | None = None) -> str:
        port = port or free_port()
        data = self.tmp / f"instance{len(self.instances)}"
        p = Proc([sys.executable, str(DISPATCH / "instance_main.py"), str(data), str(port)],
                 {**self.env, "PYTHONPATH": str(ROOT)}, self.tmp / f"instance{len(self.instances)}.log")
        p.start()
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: httpx.get(url + "/system_stats", timeout=2).status_code == 200, 30, f"instance {url}")
        self.instances.append(p)
        self.urls.append(url)
        return url

    def start_server(self) -> None:
        self.port = self.port or free_port()
        env = {**self.env, "COMFYUI_URLS": ",".join(self.urls)}
        self.server = Proc([sys.executable, "-m", "orchestrator.cli.main", "serve", "--port", str(self.port)], env,
                           self.tmp / "orchestrator.log")
        self.server.start()
        wait_for(lambda: httpx.get(self.url + "/api/health", timeout=2).status_code == 200, 60, "the orchestrator")

    def start_worker(self, queue: str, url: str) -> None:
        p = Proc([sys.executable, "-m", "orchestrator.cli.main", "worker", "--comfy", url, "--queue", queue],
                 self.env, self.tmp / f"worker-{queue}.log")
        p.start()
        self.workers[queue] = p

    def add_user(self, name: str, admin: bool = False) -> None:
        done = cli("users", "add", name, "--password", f"{name}-password", *(["--admin"] if admin else []),
                   env=self.env)
        assert done.returncode == 0, done.stderr

    def token(self, name: str) -> str:
        r = httpx.post(self.url + "/api/auth/login", json={"username": name, "password": f"{name}-password"})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def client(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def close(self) -> None:
        for p in [self.server, *self.workers.values(), *self.instances]:
            if p is not None:
                p.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in self.tmp.glob("*.log"))


def service_env(tmp: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{tmp / 'service.db'}",
        "JWT_SECRET": "e2e-" + "s" * 44,
        "DATA_DIR": str(tmp / "data"),
        "VIDEOS_DIR": str(tmp / "videos"),
        "UPLOADS_DIR": str(tmp / "uploads"),
        "WAN_MODELS_DIR": str(tmp / "models"),
        "FRONTEND_DIST": str(tmp / "no-dist"),
        "HEARTBEAT_S": "0.2",
        "HEARTBEAT_STALE_S": "2",
        "DISPATCH_POLL_S": "0.2",
        "UNREACHABLE_S": "3",
        "JOB_TIMEOUT_S": "60",
        "PROGRESS_SILENCE_S": "20",
        "WAN_I2V_CONFIG_DIR": str(tmp / "cli-config"),
        **extra,
    }

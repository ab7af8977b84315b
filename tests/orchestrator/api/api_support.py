"""Helpers of the API tests: a real uvicorn server in a thread, settings in a temp folder, images."""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from PIL import Image

from orchestrator.api.app import create_app
from orchestrator.core.settings import Settings


@dataclass
class Api:
    url: str
    settings: Settings
    app: object

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def login(self, username: str, password: str) -> str:
        with self.client() as c:
            r = c.post("/api/auth/login", json={"username": username, "password": password})
            assert r.status_code == 200, r.text
            return r.json()["access_token"]

    @property
    def services(self):  # type: ignore[no-untyped-def]
        return self.app.state.services  # type: ignore[attr-defined]


def png(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 100, 50)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def run_server(app: object) -> tuple[uvicorn.Server, threading.Thread, str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not (server.started and server.servers):
        if time.monotonic() > deadline:
            raise RuntimeError("the API did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}"


def make_settings(tmp: Path, **overrides: object) -> Settings:
    values = dict(
        DATABASE_URL=f"sqlite:///{tmp / 'service.db'}", DEV_MODE=False, JWT_SECRET="t" * 48,
        VIDEOS_DIR=tmp / "videos", UPLOADS_DIR=tmp / "uploads", DATA_DIR=tmp, WAN_MODELS_DIR=tmp / "models",
        FRONTEND_DIST=tmp / "dist", MAX_UPLOAD_BYTES=2_000_000, MAX_UPLOAD_PIXELS=4_000_000, LOGIN_RATE_LIMIT=5,
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]



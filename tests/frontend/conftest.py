"""A real orchestrator for the page's browser tests: `wan-i2v serve --dev --embedded 1` on free
ports, its data in a temporary folder, the tiny demo model, the built page, and four accounts."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "frontend" / "dist"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# Screenshots and measurements for a reviewer (frontend/.gitignore keeps them out of git).
OUTPUT = Path(os.environ.get("FRONTEND_E2E_OUTPUT", ROOT / "frontend" / "test-output"))
PASSWORDS = {"alice": "alice-pass-1", "bob": "bob-pass-2", "carol": "carol-pass-3"}


@dataclass(frozen=True)
class Server:
    url: str
    env: dict[str, str]
    admin_password: str
    log: Path
    passwords: dict[str, str]
    dist: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(*args: str, env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run([sys.executable, "-m", "orchestrator.cli.main", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode:
        raise RuntimeError(f"wan-i2v {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


def _build_page() -> None:
    """`make frontend` (npm ci and the build, each only when needed)."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: the page cannot be built (install Node.js 20.19+)")
    done = subprocess.run(["make", "-s", "frontend"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"make frontend failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert (DIST / "index.html").is_file()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the orchestrator exited ({process.returncode}):\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=2) as response:
                health = json.load(response)
            if health.get("status") == "ok" and health.get("instances_up", 0) >= 1:
                return
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the orchestrator was not healthy within {timeout:.0f} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _build_page()
    root = tmp_path_factory.mktemp("orchestrator")
    data = root / "data"
    env = {
        **os.environ,
        "DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{data / 'orchestrator.db'}",
        "VIDEOS_DIR": str(data / "videos"),
        "UPLOADS_DIR": str(data / "uploads"),
        "WAN_MODELS_DIR": str(root / "models"),
        "EMBEDDED_COMFY_PORT": str(_free_port()),
        "FRONTEND_DIST": str(DIST),
        "BROKER_URL": "",
        "COMFYUI_URLS": "",
        "PYTHONUNBUFFERED": "1",
    }
    data.mkdir()
    _cli("models", "make-demo", str(root / "models"), env=env)
    _cli("db", "upgrade", env=env)
    for name, password in PASSWORDS.items():
        _cli("users", "add", name, "--password", password, env=env)
    port = _free_port()
    log = root / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.cli.main", "serve", "--dev", "--port", str(port), "--embedded", "1"],
            cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log)
        admin_password = (data / "dev-admin.txt").read_text().strip()
        yield Server(url=url, env=env, admin_password=admin_password, log=log, passwords=dict(PASSWORDS), dist=DIST)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (never a downloaded browser); each context is a fresh profile.

    Module-scoped: Playwright's sync API keeps an asyncio loop running in this thread while it
    is open, which would break every later test that calls asyncio.run()."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is missing: run `make browser-setup`")
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing: run `make browser-setup` (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()

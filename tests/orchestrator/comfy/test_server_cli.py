"""`wan-i2v comfy serve` as a user runs it: a real process with the real node pack."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.e2e  # imports the whole node pack in a fresh process


def test_server_serves_the_pack_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "orchestrator.cli.main",
        "comfy",
        "serve",
        "--port",
        "0",
        "--data",
        str(tmp_path / "data"),
        "--models",
        str(tmp_path / "models"),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        for line in process.stdout:
            found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            if found:
                url = found.group(1)
                break
        assert url, "the server did not print its URL"
        info = requests.get(url + "/object_info", timeout=30).json()
        assert {"WanI2VSampler", "WanI2VModelLoader", "WanI2VSaveVideo"} <= set(info)
        assert info["WanI2VSampler"]["python_module"] == "custom_nodes.comfy_nodes"
        assert requests.get(url + "/api/prompt", timeout=10).json() == {"exec_info": {"queue_remaining": 0}}
        assert {p.name for p in (tmp_path / "data").iterdir()} == {"input", "output", "temp"}
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0 and "Stopped." in rest


def test_server_reports_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # torch made unimportable: the port is checked before the node pack (and torch) loads.
        script = "import sys; sys.modules['torch'] = None; from orchestrator.cli.main import app; app()"
        result = subprocess.run(
            [sys.executable, "-c", script, "comfy", "serve", "--port", str(port), "--data", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "pick another --port" in result.stderr and "Traceback" not in result.stderr


def test_allow_host_adds_names_the_server_answers_to(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "orchestrator.cli.main", "comfy", "serve", "--port", "0", "--data",
               str(tmp_path / "data"), "--models", str(tmp_path / "models"), "--allow-host", "Studio.LAN"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = next(found.group(1) for line in process.stdout if (found := re.search(r"listening on (http://\S+)", line)))
        port = url.rsplit(":", 1)[1]
        named = requests.get(url + "/system_stats", headers={"Host": f"studio.lan:{port}"}, timeout=30)
        other = requests.get(url + "/system_stats", headers={"Host": f"evil.example:{port}"}, timeout=30)
        loopback = requests.get(url + "/system_stats", timeout=30)
    finally:
        process.kill()
        process.communicate(timeout=30)
    assert named.status_code == 200 and loopback.status_code == 200
    assert other.status_code == 403 and "--allow-host" in other.text

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
        result = subprocess.run(
            [sys.executable, "-m", "orchestrator.cli.main", "comfy", "serve", "--port", str(port), "--data", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in result.stderr

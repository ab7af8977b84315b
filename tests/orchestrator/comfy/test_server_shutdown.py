"""Ctrl-C on `serve` with prompts queued says how many were dropped and that the running one was interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import server_protocol_checks as checks
from comfy_protocol_client import ComfyClient

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]

SERVE = """
import sys
import server_protocol_nodes
from orchestrator.comfy.server import ServerConfig, create_app, serve

app = create_app(ServerConfig(data_dir=sys.argv[1]), server_protocol_nodes.NODE_CLASS_MAPPINGS)
serve(app, "127.0.0.1", 0, on_ready=lambda url: print(url, flush=True))
"""


def test_ctrl_c_reports_the_dropped_prompts(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)])}
    proc = subprocess.Popen([sys.executable, "-c", SERVE, str(tmp_path)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.poll() is not None else url
        with ComfyClient(url) as client:
            running = checks.start_long_run(client, "proto/shutdown")
            for _ in range(3):
                client.submit(checks.chain(checks.unique_value()))
            assert len(client.queue()["queue_pending"]) == 3
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"Stopping: 3 queued prompts dropped, the running prompt {running} interrupted." in err

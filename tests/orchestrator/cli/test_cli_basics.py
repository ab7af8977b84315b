"""What a newcomer checks first: --version, and a LICENSE that matches the package metadata."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_version_prints_the_installed_version_fast() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli.main", "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wan-i2v {version('wan-i2v')}"


def test_license_file_matches_the_metadata() -> None:
    metadata = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert metadata["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text.splitlines()[0] and "Version 2.0, January 2004" in text


def test_login_reads_a_piped_password_quietly(tmp_path: Path) -> None:
    import json
    import os
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            seen.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            body = json.dumps({"access_token": "tok", "user": {"username": "alice"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "orchestrator.cli.main", "login", "--username", "alice", "--server", url],
            input="s3cret pass\n", capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONPATH": str(ROOT), "WAN_I2V_CONFIG_DIR": str(tmp_path)},
        )
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr and "Password" not in done.stderr, done.stderr
    assert seen == [{"username": "alice", "password": "s3cret pass"}]
    assert "Logged in to" in done.stdout


def test_job_commands_describe_the_job_id() -> None:
    from typer.testing import CliRunner

    from orchestrator.cli.main import app

    for command in ("download", "status", "cancel"):
        result = CliRunner().invoke(app, [command, "--help"])
        assert "The job's id" in result.output, result.output


def test_run_help_has_a_plain_usage_line_readable_metavars_and_examples() -> None:
    from typer.testing import CliRunner

    from orchestrator.cli.main import app

    result = CliRunner().invoke(app, ["run", "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    text = result.output
    assert "Usage: wan-i2v run [OPTIONS] [WORKFLOW] IMAGE" in text
    for tag in ("<list[str]>", "<bool>", "<int range>", "x>=1", "<str>", "<path>"):
        assert tag not in text, tag
    assert "IMAGE (required)" in text and "NAME=VALUE" in text
    assert 'wan-i2v run cat.png -p "a cat turns its head"' in text and "Examples" in text
    bad = CliRunner().invoke(app, ["run", "cat.png", "-p", "x", "--cp-ulysses", "0"])
    assert bad.exit_code == 2 and "1 or more" in bad.output


def test_serve_on_a_taken_port_says_so_before_starting_anything(tmp_path: Path) -> None:
    import os
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "DATA_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
        done = subprocess.run([sys.executable, "-m", "orchestrator.cli.main", "serve", "--port", str(port),
                               "--embedded", "1", "--dev"], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=60)  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"port {port} on 127.0.0.1 is already in use; pick another --port (make run: PORT=...)" in done.stderr
    assert "Starting" not in done.stdout and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # no database, no admin, no instance folder

"""The README's Python client, run as written against a server like `make run`'s (the demo model)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

import comfy_nodes
from comfy_nodes.video.ffmpeg import probe_video
from orchestrator.comfy.server import EmbeddedServer, ServerConfig, create_app

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[3]


def readme_client_block() -> str:
    """The README's Python block that talks to the server."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.S)
    found = [b for b in blocks if "/prompt" in b and "127.0.0.1:8188" in b]
    assert len(found) == 1, "README.md should hold exactly one Python client block for the server"
    return found[0]


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory, demo_models: Path, module_host_folders: None) -> Iterator[EmbeddedServer]:
    config = ServerConfig(data_dir=tmp_path_factory.mktemp("readme-server"), models_dir=demo_models)
    server = EmbeddedServer(create_app(config, comfy_nodes.NODE_CLASS_MAPPINGS, comfy_nodes.NODE_DISPLAY_NAME_MAPPINGS))
    server.start()
    yield server
    server.stop()


def test_the_readme_python_client_runs_as_written(demo_server: EmbeddedServer, tmp_path: Path) -> None:
    code = readme_client_block().replace("127.0.0.1:8188", f"127.0.0.1:{demo_server.port}")  # the only change
    Image.new("RGB", (160, 120), (90, 140, 200)).save(tmp_path / "cat.png")
    script = tmp_path / "client.py"
    script.write_text(code, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "saved cat.mp4" in proc.stdout
    info = probe_video(tmp_path / "cat.mp4")
    assert (info.codec, info.num_frames) == ("h264", 17)


def test_the_readme_python_client_checks_the_prompt_answer(demo_server: EmbeddedServer, tmp_path: Path) -> None:
    # Real weights' names on the demo server: the client must stop with the server's reason, not a KeyError.
    code = readme_client_block().replace("127.0.0.1:8188", f"127.0.0.1:{demo_server.port}")
    code = code.replace("**DEMO_MODEL_PARAMS, ", "")
    Image.new("RGB", (160, 120), (90, 140, 200)).save(tmp_path / "cat.png")
    (tmp_path / "client.py").write_text(code, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "client.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "Refused:" in proc.stderr and "wan2.1_i2v_480p_14B_bf16.safetensors" in proc.stderr
    assert "KeyError" not in proc.stderr

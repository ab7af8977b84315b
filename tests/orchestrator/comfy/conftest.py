"""Fixtures for the server tests: a real server on 127.0.0.1 with tiny protocol nodes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import server_protocol_nodes  # noqa: E402
from comfy_protocol_client import ComfyClient  # noqa: E402

from orchestrator.comfy.server import ServerConfig, EmbeddedServer, create_app  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, module_host_folders: None) -> Iterator[EmbeddedServer]:
    """One server per test module (each module starts from empty folders and cache)."""
    data = tmp_path_factory.mktemp("server-data")
    config = ServerConfig(data_dir=data, models_dir=data / "models", max_upload_mb=1)
    app = create_app(
        config, server_protocol_nodes.NODE_CLASS_MAPPINGS, server_protocol_nodes.NODE_DISPLAY_NAME_MAPPINGS
    )
    server = EmbeddedServer(app)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(server: EmbeddedServer) -> Iterator[ComfyClient]:
    with ComfyClient(server.url) as c:
        yield c

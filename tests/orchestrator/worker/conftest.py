"""Fixtures for the worker tests: a real worker on 127.0.0.1 with tiny protocol nodes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import worker_protocol_nodes  # noqa: E402
from comfy_protocol_client import ComfyClient  # noqa: E402

from orchestrator.worker import WorkerConfig, WorkerServer, create_app  # noqa: E402


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory, module_host_folders: None) -> Iterator[WorkerServer]:
    """One worker per test module (each module starts from empty folders and cache)."""
    data = tmp_path_factory.mktemp("worker-data")
    config = WorkerConfig(data_dir=data, models_dir=data / "models", max_upload_mb=1)
    app = create_app(
        config, worker_protocol_nodes.NODE_CLASS_MAPPINGS, worker_protocol_nodes.NODE_DISPLAY_NAME_MAPPINGS
    )
    server = WorkerServer(app)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(worker: WorkerServer) -> Iterator[ComfyClient]:
    with ComfyClient(worker.url) as c:
        yield c

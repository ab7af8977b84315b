"""The released WAN workflow through the embedded worker, as a ComfyUI client sees it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from comfy_protocol_client import ComfyClient
from wan_workflow_checks import check_wan_workflow

import comfy_nodes
from comfy_nodes import host
from orchestrator.worker import WorkerConfig, WorkerServer, create_app

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def wan_worker(tmp_path_factory: pytest.TempPathFactory, demo_models) -> Iterator[WorkerServer]:
    saved_models, saved_io = host._models_dir, dict(host._io_dirs)
    config = WorkerConfig(data_dir=tmp_path_factory.mktemp("wan-worker"), models_dir=demo_models)
    server = WorkerServer(create_app(config, comfy_nodes.NODE_CLASS_MAPPINGS, comfy_nodes.NODE_DISPLAY_NAME_MAPPINGS))
    server.start()
    yield server
    server.stop()
    host._models_dir = saved_models
    host._io_dirs.clear()
    host._io_dirs.update(saved_io)


def test_wan_workflow_runs_and_serves_its_mp4(wan_worker, tmp_path):
    with ComfyClient(wan_worker.url) as client:
        check_wan_workflow(client, tmp_path)

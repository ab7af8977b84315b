"""The released WAN workflow through the embedded server, as a ComfyUI client sees it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from comfy_protocol_client import ComfyClient
from wan_workflow_checks import check_wan_workflow

import comfy_nodes
from orchestrator.comfy.server import ServerConfig, EmbeddedServer, create_app

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def wan_server(tmp_path_factory: pytest.TempPathFactory, demo_models, module_host_folders) -> Iterator[EmbeddedServer]:
    config = ServerConfig(data_dir=tmp_path_factory.mktemp("wan-server"), models_dir=demo_models)
    server = EmbeddedServer(create_app(config, comfy_nodes.NODE_CLASS_MAPPINGS, comfy_nodes.NODE_DISPLAY_NAME_MAPPINGS))
    server.start()
    yield server
    server.stop()


def test_wan_workflow_runs_and_serves_its_mp4(wan_server, tmp_path):
    with ComfyClient(wan_server.url) as client:
        check_wan_workflow(client, tmp_path)

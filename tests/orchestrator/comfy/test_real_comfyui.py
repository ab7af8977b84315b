"""The node pack and the protocol checks against a real ComfyUI.

Needs COMFYUI_DIR pointing at a ComfyUI checkout whose Python (COMFYUI_DIR/.venv
or COMFYUI_PYTHON) has ComfyUI's requirements. The pack is linked into
custom_nodes/ with `comfy install`'s logic (and its requirements pip-installed
unless COMFYUI_SKIP_PIP=1), the protocol test nodes are linked next to it,
and ComfyUI is launched on the CPU on a free port. Everything linked here is
removed afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import server_protocol_checks as checks
from comfy_protocol_client import ComfyClient
from real_comfyui_support import demo_model_paths, pack_linked, running

from wan_workflow_checks import check_wan_workflow

from comfy_nodes.models import demo
from orchestrator.comfy import install as comfy_install

pytestmark = [pytest.mark.comfyui, pytest.mark.e2e]

COMFYUI_DIR = os.environ.get("COMFYUI_DIR")
if not COMFYUI_DIR:
    pytest.skip("set COMFYUI_DIR to a ComfyUI checkout to run the real-ComfyUI tests", allow_module_level=True)

PROTOCOL_NODES = Path(__file__).with_name("server_protocol_nodes.py")
PACK_NODES = {
    "WanI2VModelLoader",
    "WanI2VTextEncode",
    "WanI2VImageEncode",
    "WanI2VSampler",
    "WanI2VDecode",
    "WanI2VSaveVideo",
}


@pytest.fixture(scope="module")
def comfyui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ComfyUI on the CPU with the pack and the protocol test nodes; yields its URL."""
    checkout = comfy_install.check_checkout(Path(COMFYUI_DIR))
    python = Path(os.environ.get("COMFYUI_PYTHON") or comfy_install.default_python(checkout))
    with pack_linked(checkout, {"wan_i2v_protocol_test_nodes.py": PROTOCOL_NODES}):
        if not os.environ.get("COMFYUI_SKIP_PIP"):
            comfy_install.install_requirements(python)
        # The demo model in a folder of ours, added to ComfyUI's model paths.
        models = tmp_path_factory.mktemp("comfyui-models")
        demo.make_demo_model(models)
        with running(checkout, python, tmp_path_factory.mktemp("comfyui-run"), demo_model_paths(models, models)) as url:
            yield url


@pytest.fixture
def client(comfyui: str) -> Iterator[ComfyClient]:
    with ComfyClient(comfyui) as c:
        yield c


def test_object_info_lists_the_pack(client: ComfyClient) -> None:
    info = client.get("/object_info").json()
    assert PACK_NODES <= set(info), sorted(PACK_NODES - set(info))
    sampler = info["WanI2VSampler"]
    assert sampler["python_module"] == f"custom_nodes.{comfy_install.DEFAULT_PACK_NAME}"
    assert sampler["category"].startswith("WAN I2V")
    assert all("tooltip" in entry[1] for entry in sampler["input"]["required"].values() if len(entry) > 1)
    assert info["WanI2VSaveVideo"]["output_node"] is True
    assert {"ProtoNumber", "ProtoTicker", "ProtoSave", "ProtoFail"} <= set(info)


def test_first_frame(client: ComfyClient) -> None:
    assert client.first_frame["type"] == "status" and client.first_frame["data"]["sid"] == client.client_id


def test_successful_run_and_view(client: ComfyClient) -> None:
    _, value, entry = checks.check_success_run(client, steps=3)
    checks.check_view(client, entry, value)


def test_cached_rerun(client: ComfyClient) -> None:
    checks.check_cached_rerun(client)


def test_error_run(client: ComfyClient) -> None:
    checks.check_error_run(client)


def test_interrupts(comfyui: str, client: ComfyClient) -> None:
    with ComfyClient(comfyui) as bystander:
        checks.check_interrupt_by_id(client, bystander)
        checks.check_global_interrupt(client, bystander)


def test_queue_order_delete_and_clear(client: ComfyClient) -> None:
    checks.check_queue_order_and_delete(client)
    checks.check_queue_clear(client)


def test_without_client_id(client: ComfyClient) -> None:
    checks.check_without_client_id(client)


def test_uploads(client: ComfyClient) -> None:
    checks.check_upload_names(client)


def test_validation(client: ComfyClient) -> None:
    checks.check_validation_rejects(client)


def test_wan_workflow_produces_an_mp4(client: ComfyClient, tmp_path: Path) -> None:
    check_wan_workflow(client, tmp_path)

"""On the embedded server (no ComfyUI), POST /free with unload_models releases the
models our loader nodes hold, as ComfyUI's /free unloads them (see the COMFYUI_DIR
tests for ComfyUI itself)."""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from comfy_nodes import NODE_CLASS_MAPPINGS, host
from comfy_nodes.models import demo
from orchestrator.comfy.server import EmbeddedServer, ServerConfig, create_app

_seen: list[weakref.ref] = []


class KeepWeakRef:
    """Test node: remembers the transformer it is given, weakly."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {"required": {"model": ("WAN_MODEL",), "tag": ("INT", {"default": 0})}}

    RETURN_TYPES = ()
    FUNCTION = "keep"
    OUTPUT_NODE = True
    CATEGORY = "test"

    def keep(self, model, tag: int) -> dict:
        _seen.append(weakref.ref(model.transformer))
        return {"ui": {"tag": [tag]}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, module_host_folders: None) -> Iterator[EmbeddedServer]:
    data = tmp_path_factory.mktemp("free-data")
    models = data / "models"
    demo.make_demo_model(models)
    app = create_app(ServerConfig(data_dir=data, models_dir=models), {**NODE_CLASS_MAPPINGS, "KeepWeakRef": KeepWeakRef})
    server = EmbeddedServer(app)
    server.start()
    yield server
    server.stop()


def _run(url: str, tag: int) -> None:
    prompt = {
        "1": {"class_type": "WanI2VModelLoader",
              "inputs": {"model_name": demo.FILES["diffusion_models"], "compute_dtype": "fp32"}},
        "2": {"class_type": "KeepWeakRef", "inputs": {"model": ["1", 0], "tag": tag}},
    }  # fmt: skip
    answer = requests.post(f"{url}/prompt", json={"prompt": prompt, "client_id": "free-test"}, timeout=30)
    assert answer.status_code == 200, answer.text
    prompt_id = answer.json()["prompt_id"]
    deadline = time.monotonic() + 120
    while not (entry := requests.get(f"{url}/history/{prompt_id}", timeout=10).json()):
        assert time.monotonic() < deadline, "prompt did not finish"
        time.sleep(0.1)
    assert entry[prompt_id]["status"]["status_str"] == "success", entry


def _wait_released(ref: weakref.ref, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gc.collect()
        if ref() is None:
            return True
        time.sleep(0.1)
    return False


def test_free_unload_models_releases_the_loaded_transformer(server: EmbeddedServer) -> None:
    _seen.clear()
    _run(server.url, 1)
    _run(server.url, 2)  # only the probe runs again: the loaded model stays cached between prompts
    first, second = _seen
    assert first() is second() is not None
    assert not host.IN_COMFYUI  # the embedded server's own /free, not ComfyUI's
    assert requests.post(f"{server.url}/free", json={"unload_models": True}, timeout=10).status_code == 200
    assert _wait_released(first), "the transformer is still referenced after /free"
    _run(server.url, 3)  # loaded afresh
    assert _seen[-1]() is not None

"""The released WAN workflow through the embedded worker, as a ComfyUI client sees it."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from comfy_protocol_client import ComfyClient
from PIL import Image

import comfy_nodes
from comfy_nodes import host
from comfy_nodes.video.ffmpeg import probe_video
from orchestrator.cli.demo import demo_model_params
from orchestrator.workflows import bind, get_workflow
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


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (80, 60), (30, 140, 220)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_wan_workflow_runs_and_serves_its_mp4(wan_worker, tmp_path):
    with ComfyClient(wan_worker.url) as client:
        name = client.upload("start.png", _png()).json()["name"]
        params = {**demo_model_params(), "resolution": "custom", "width": 64, "height": 48, "num_frames": 9,
                  "steps": 3, "prompt": "a boat", "filename_prefix": "jobs/e2e"}  # fmt: skip
        prompt = bind(get_workflow("i2v_480p"), params, image=name)
        prompt_id, frames = client.run(prompt, timeout=300)

        types = [f["type"] for f in frames]
        assert types.index("execution_start") < types.index("execution_cached") < types.index("execution_success")
        sampler_id = next(i for i, node in prompt.items() if node["class_type"] == "WanI2VSampler")
        steps = [f["data"]["value"] for f in frames if f["type"] == "progress" and f["data"]["node"] == sampler_id]
        assert steps == [1, 2, 3]

        entry = client.history(prompt_id)[prompt_id]
        assert entry["status"]["status_str"] == "success" and entry["status"]["completed"] is True
        save_id = next(i for i, node in prompt.items() if node["class_type"] == "WanI2VSaveVideo")
        video = entry["outputs"][save_id]["images"][0]
        assert video["subfolder"] == "jobs" and video["filename"].endswith(".mp4") and video["type"] == "output"
        assert entry["outputs"][sampler_id]["wan_stats"][0]["passes"]["cond"]["computed"] == 3

        response = client.view(video["filename"], video["subfolder"])
        assert response.status_code == 200
        local = tmp_path / "out.mp4"
        local.write_bytes(response.content)
        info = probe_video(local)
        assert (info.codec, info.width, info.height, info.num_frames) == ("h264", 64, 48, 9)

        # The identical prompt again is served from the cache, as in ComfyUI.
        again_id, again = client.run(prompt, timeout=120)
        cached = next(f for f in again if f["type"] == "execution_cached")["data"]["nodes"]
        assert set(cached) == set(prompt)
        assert client.history(again_id)[again_id]["outputs"][save_id]["images"][0] == video

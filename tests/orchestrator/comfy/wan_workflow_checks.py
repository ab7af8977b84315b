"""The released WAN workflow on the demo model, checked the same way on any ComfyUI-protocol server."""

from __future__ import annotations

import io
from pathlib import Path

from comfy_protocol_client import ComfyClient
from PIL import Image

from comfy_nodes.video.ffmpeg import probe_video
from orchestrator.cli.demo import demo_model_params
from orchestrator.workflows import bind, get_workflow

STEPS = 3


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (80, 60), (30, 140, 220)).save(buffer, format="PNG")
    return buffer.getvalue()


def _node(prompt: dict, class_type: str) -> str:
    return next(node_id for node_id, node in prompt.items() if node["class_type"] == class_type)


def check_wan_workflow(client: ComfyClient, tmp_path: Path) -> None:
    """Upload, run i2v_480p@1 at a small size, follow progress, download and probe the MP4, re-run from cache."""
    name = client.upload("wan_start.png", _png()).json()["name"]
    params = {**demo_model_params(), "resolution": "custom", "width": 64, "height": 48, "num_frames": 9,
              "steps": STEPS, "prompt": "a boat", "filename_prefix": "jobs/e2e"}  # fmt: skip
    prompt = bind(get_workflow("i2v_480p"), params, image=name)
    sampler_id = _node(prompt, "WanI2VSampler")

    # The sampler's own check of shift, for graphs saved with 0 (version 2 still binds it): a 400 naming it.
    flat = bind(get_workflow("i2v_480p@2"), {**params, "shift": 0.0}, image=name)
    refused = client.post_prompt(flat)
    assert refused.status_code == 400, refused.text
    error = refused.json()["node_errors"][sampler_id]["errors"][0]
    assert "shift must be above 0" in error["details"], error

    prompt_id, frames = client.run(prompt, timeout=600)

    types = [f["type"] for f in frames]
    assert types.index("execution_start") < types.index("execution_cached") < types.index("execution_success")
    save_id = _node(prompt, "WanI2VSaveVideo")
    steps = [f["data"]["value"] for f in frames if f["type"] == "progress" and f["data"]["node"] == sampler_id]
    assert steps == list(range(1, STEPS + 1))

    entry = client.history(prompt_id)[prompt_id]
    assert entry["status"]["status_str"] == "success" and entry["status"]["completed"] is True
    video = entry["outputs"][save_id]["images"][0]
    assert video["subfolder"] == "jobs" and video["filename"].endswith(".mp4") and video["type"] == "output"
    assert entry["outputs"][sampler_id]["wan_stats"][0]["passes"]["cond"]["computed"] == STEPS

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

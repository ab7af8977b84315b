"""One video on two ranks inside a real ComfyUI: started with WAN_I2V_CP_ULYSSES=2, its sampler starts
a helper rank of its own (comfy_nodes/accel/helper_ranks.py). On the CPU over gloo (WAN_I2V_CP_GLOO=1).

Needs COMFYUI_DIR (a ComfyUI checkout with its requirements and the pack's in COMFYUI_DIR/.venv or
COMFYUI_PYTHON); skipped without it.
"""

from __future__ import annotations

import io
import os
import signal
import time
from pathlib import Path

import pytest
from comfy_protocol_client import ComfyClient
from real_comfyui_support import demo_model_paths, pack_linked, running

from comfy_nodes.accel import context_parallel
from orchestrator.comfy import install as comfy_install
from orchestrator.cli.demo import demo_model_params
from orchestrator.workflows import bind, get_workflow

pytestmark = [pytest.mark.comfyui, pytest.mark.e2e]

COMFYUI_DIR = os.environ.get("COMFYUI_DIR")
if not COMFYUI_DIR:
    pytest.skip("set COMFYUI_DIR to a ComfyUI checkout to run the real-ComfyUI tests", allow_module_level=True)

CHECKOUT = comfy_install.check_checkout(Path(COMFYUI_DIR))
PYTHON = Path(os.environ.get("COMFYUI_PYTHON") or comfy_install.default_python(CHECKOUT))
SAMPLER = "10"  # the sampler's node id in i2v_480p


def _prompt(image: str, **values: object) -> dict:
    # 2 x 4 x 6 video tokens: they split evenly over two ranks.
    params = {**demo_model_params(), "diffusion_model": "two_heads.safetensors", "resolution": "custom", "width": 96,
              "height": 64, "num_frames": 5, "steps": 2, "prompt": "a cat", **values}  # fmt: skip
    return bind(get_workflow("i2v_480p"), params, image=image)


def _frames(client: ComfyClient, prompt_id: str, dest: Path) -> list[bytes]:
    import imageio_ffmpeg

    entry = client.history(prompt_id)[prompt_id]
    errors = [m[1].get("exception_message") for m in entry["status"]["messages"] if m[0] == "execution_error"]
    assert entry["status"]["status_str"] == "success", errors or entry["status"]
    (item,) = [v for ui in entry["outputs"].values() for v in ui.get("images", []) + ui.get("gifs", [])
               if str(v.get("filename", "")).endswith(".mp4")]  # fmt: skip
    dest.write_bytes(client.view(item["filename"], item.get("subfolder", ""), item.get("type", "output")).content)
    reader = imageio_ffmpeg.read_frames(str(dest))
    next(reader)
    return list(reader)


def _stats(client: ComfyClient, prompt_id: str) -> dict:
    entry = client.history(prompt_id)[prompt_id]
    (stats,) = [s for ui in entry["outputs"].values() for s in ui.get("wan_stats", [])]
    return stats


def _upload(client: ComfyClient) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (160, 120), (200, 120, 40)).save(buffer, format="PNG")
    return client.upload("cp_start.png", buffer.getvalue()).json()["name"]


def _helpers() -> list[int]:
    """Process ids of running helper ranks (their command line names the module)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"accel.helper_ranks" in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_comfyui_with_a_helper_rank_makes_the_video_of_one_process_and_survives_an_interrupt(
    two_head_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(context_parallel.CP_ENV, "2")
    monkeypatch.setenv(context_parallel.GLOO_ENV, "1")
    work = tmp_path / "split"
    work.mkdir()
    with pack_linked(CHECKOUT), running(CHECKOUT, PYTHON, work, demo_model_paths(two_head_models, work)) as url:
        with ComfyClient(url) as client:
            image = _upload(client)
            prompt_id, _ = client.run(_prompt(image), timeout=600)
            split = _frames(client, prompt_id, tmp_path / "split.mp4")
            assert _stats(client, prompt_id)["context_parallel"] == {"ulysses": 2}
            assert len(_helpers()) == 1

            # An interrupt while sampling stops the helper's run too: the next prompt runs on both ranks.
            long_id = client.submit(_prompt(image, steps=40, seed=1))["prompt_id"]
            client.wait_for(lambda f: f.get("type") == "progress" and f["data"].get("node") == SAMPLER
                            and f["data"].get("value", 0) >= 1, timeout=300)  # fmt: skip
            client.interrupt()
            client.wait_done(long_id, timeout=120)
            assert client.history(long_id)[long_id]["status"]["status_str"] == "error"
            again_id, _ = client.run(_prompt(image, seed=2), timeout=300)
            assert len(_frames(client, again_id, tmp_path / "again.mp4")) == len(split)

            # A helper that dies is replaced at the next run; the model split over the old one must be
            # loaded anew, which the run says (that the helper stopped, or, once ComfyUI's process has
            # seen it exit, that the model was split over it), and after /free the next run splits
            # over a new helper.
            (helper,) = _helpers()
            os.kill(helper, signal.SIGKILL)
            refused_id, _ = client.run(_prompt(image, seed=3), timeout=300)
            refused = client.history(refused_id)[refused_id]
            assert refused["status"]["status_str"] == "error"
            reasons = [m[1].get("exception_message", "") for m in refused["status"]["messages"] if m[0] == "execution_error"]
            assert "unload the models" in " ".join(reasons).lower(), reasons
            assert client.post("/free", {"unload_models": True, "free_memory": True}).status_code == 200
            time.sleep(2)  # ComfyUI applies /free between prompts
            renewed_id, _ = client.run(_prompt(image, seed=3), timeout=300)
            assert len(_frames(client, renewed_id, tmp_path / "renewed.mp4")) == len(split)
            assert _helpers() and helper not in _helpers()
    deadline = time.monotonic() + 15  # the helper watches ComfyUI and exits with it
    while _helpers() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _helpers() == []

    monkeypatch.delenv(context_parallel.CP_ENV)
    work = tmp_path / "single"
    work.mkdir()
    with pack_linked(CHECKOUT), running(CHECKOUT, PYTHON, work, demo_model_paths(two_head_models, work)) as url:
        with ComfyClient(url) as client:
            prompt_id, _ = client.run(_prompt(_upload(client)), timeout=600)
            reference = _frames(client, prompt_id, tmp_path / "one.mp4")
            assert "context_parallel" not in _stats(client, prompt_id)
    assert split == reference

"""The pack inside a real ComfyUI: its model management, its native loaders on our
demo files, and the git-URL install.

Needs COMFYUI_DIR (a ComfyUI checkout with its requirements and the pack's in
COMFYUI_DIR/.venv or COMFYUI_PYTHON); skipped without it. Everything linked or
cloned into custom_nodes/ is removed afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from comfy_protocol_client import ComfyClient
from real_comfyui_support import demo_model_paths, pack_linked, running

from comfy_nodes.models import demo
from orchestrator.cli.demo import demo_model_params
from orchestrator.comfy import install as comfy_install
from orchestrator.workflows import bind, get_workflow

pytestmark = [pytest.mark.comfyui, pytest.mark.e2e]

COMFYUI_DIR = os.environ.get("COMFYUI_DIR")
if not COMFYUI_DIR:
    pytest.skip("set COMFYUI_DIR to a ComfyUI checkout to run the real-ComfyUI tests", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[3]
PROBE_NODES = ROOT / "tests" / "comfy_nodes" / "comfyui_memory_probe.py"
PACK_NODES = {"WanI2VModelLoader", "WanI2VTextEncode", "WanI2VImageEncode", "WanI2VSampler", "WanI2VDecode", "WanI2VSaveVideo"}
CHECKOUT = comfy_install.check_checkout(Path(COMFYUI_DIR))
PYTHON = Path(os.environ.get("COMFYUI_PYTHON") or comfy_install.default_python(CHECKOUT))


@pytest.fixture(scope="module")
def demo_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = tmp_path_factory.mktemp("comfyui-models")
    demo.make_demo_model(models)
    return models


# ------------------------------------------------------------------ native loaders on our files

NATIVE_SCRIPT = r"""
import json, os, sys
comfy_dir, models = sys.argv[1], sys.argv[2]
sys.path.insert(0, comfy_dir)
os.chdir(comfy_dir)
sys.argv = [sys.argv[0], "--cpu"]
import comfy.options
comfy.options.enable_args_parsing()
import folder_paths
for kind in ("diffusion_models", "vae"):
    folder_paths.add_model_folder_path(kind, os.path.join(models, kind))
import torch, nodes, comfy.utils, comfy.model_detection
out = {}
name = folder_paths.get_filename_list("diffusion_models")[0]
sd = comfy.utils.load_torch_file(folder_paths.get_full_path("diffusion_models", name))
config = comfy.model_detection.model_config_from_unet(sd, "")
out["detected"] = type(config).__name__
out["unet_config"] = {k: v for k, v in config.unet_config.items() if isinstance(v, (int, str, float, list, tuple))}
try:
    (model,) = nodes.UNETLoader().load_unet(name, "default")
    out["unet_loader"] = type(model.model.model_config).__name__
except Exception as exc:
    out["unet_loader_error"] = str(exc)[:600]
(vae,) = nodes.VAELoader().load_vae(folder_paths.get_filename_list("vae")[0])
torch.manual_seed(0)
image = torch.rand(5, 64, 48, 3)  # five frames, NHWC in [0, 1] as ComfyUI's IMAGE
(latent,) = nodes.VAEEncode().encode(vae, image)
(decoded,) = nodes.VAEDecode().decode(vae, latent)
out["latent"] = list(latent["samples"].shape)
out["decoded"] = list(decoded.shape)
out["decoded_finite"] = bool(torch.isfinite(decoded).all())
out["decoded_range"] = [float(decoded.min()), float(decoded.max())]
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def native(demo_models: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """ComfyUI's own loaders, run in its Python on our demo files."""
    script = tmp_path_factory.mktemp("native") / "native.py"
    script.write_text(NATIVE_SCRIPT)
    done = subprocess.run(
        [str(PYTHON), str(script), str(CHECKOUT), str(demo_models)], capture_output=True, text=True, timeout=600
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    return json.loads(lines[-1].removeprefix("RESULT "))


def test_model_detection_reads_the_demo_file_as_wan21_i2v(native: dict) -> None:
    # The sizes of comfy_nodes/models/demo.py's transformer, read back by ComfyUI from the weights alone.
    assert native["detected"] == "WAN21_I2V"
    config = native["unet_config"]
    expected = {"image_model": "wan2.1", "model_type": "i2v", "in_dim": 36, "out_dim": 16, "dim": 128,
                "num_heads": 1, "ffn_dim": 256, "num_layers": 2, "freq_dim": 256, "patch_size": [1, 2, 2]}  # fmt: skip
    assert {k: config.get(k) for k in expected} == expected


def test_native_unet_loader_loads_the_demo_file(native: dict) -> None:
    assert native.get("unet_loader") == "WAN21_I2V", native.get("unet_loader_error")


def test_native_vae_nodes_run_on_the_demo_vae(native: dict) -> None:
    # 5 frames -> 2 latent frames (4x in time), 8x in space, 16 channels; and back.
    assert native["latent"] == [1, 16, 2, 8, 6]
    assert native["decoded"] == [5, 64, 48, 3]
    assert native["decoded_finite"] and 0.0 <= native["decoded_range"][0] <= native["decoded_range"][1] <= 1.0


# ------------------------------------------------------------------ model management

@pytest.fixture(scope="module")
def comfyui(demo_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ComfyUI on the CPU with the pack and the memory probe routes."""
    work = tmp_path_factory.mktemp("comfyui-run")
    with pack_linked(CHECKOUT, {"wan_i2v_memory_probe.py": PROBE_NODES}), \
            running(CHECKOUT, PYTHON, work, demo_model_paths(demo_models, work)) as url:
        yield url


def _run_demo(client: ComfyClient, image: str, seed: int) -> None:
    params = {**demo_model_params(), "resolution": "custom", "width": 64, "height": 48, "num_frames": 5,
              "steps": 2, "seed": seed, "prompt": "a boat", "filename_prefix": "jobs/memory"}  # fmt: skip
    prompt_id, _ = client.run(bind(get_workflow("i2v_480p"), params, image=image), timeout=600)
    assert client.history(prompt_id)[prompt_id]["status"]["status_str"] == "success"


def _ours(client: ComfyClient) -> list[str]:
    state = client.get("/wan_i2v_probe/loaded").json()
    return [entry["module"] for entry in state["loaded"] if entry["patcher"] == "ManagedModule"]


def _after_free(client: ComfyClient, body: dict, done) -> dict:
    """POST /free, then wait (the worker applies it between prompts, within about a second)."""
    assert client.post("/free", body).status_code == 200
    deadline = time.monotonic() + 30
    while True:
        state = client.get("/wan_i2v_probe/loaded").json()
        if done(state) or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


def test_free_unloads_our_models_through_comfyui(comfyui: str) -> None:
    from PIL import Image
    import io

    with ComfyClient(comfyui) as client:
        buffer = io.BytesIO()
        Image.new("RGB", (80, 60), (200, 90, 30)).save(buffer, format="PNG")
        image = client.upload(f"memory_{uuid.uuid4().hex[:8]}.png", buffer.getvalue()).json()["name"]

        _run_demo(client, image, seed=1)
        # Placed through load_models_gpu: ComfyUI lists our transformer and VAE among its loaded models.
        assert {"WanTransformer3DModel", "AutoencoderKLWan"} <= set(_ours(client))
        assert client.post("/wan_i2v_probe/track").json()["tracked"] >= 1

        state = _after_free(client, {"unload_models": True}, lambda s: not any(e["patcher"] == "ManagedModule" for e in s["loaded"]))
        assert _ours(client) == [] and state["loaded"] == []
        assert state["tracked_alive"] >= 1  # unloaded, but still in the node cache

        # The cached loader outputs are used again: the sampler and the decode load them back through ComfyUI.
        _run_demo(client, image, seed=2)
        assert {"WanTransformer3DModel", "AutoencoderKLWan"} <= set(_ours(client))

        # free_memory also drops ComfyUI's node cache: our model objects are released.
        state = _after_free(client, {"unload_models": True, "free_memory": True}, lambda s: s["tracked_alive"] == 0)
        assert state["tracked_alive"] == 0 and _ours(client) == []


MANAGED_SCRIPT = r"""
import gc, json, os, sys, weakref
comfy_dir, repo, models = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, comfy_dir)
os.chdir(comfy_dir)
sys.argv = [sys.argv[0], "--cpu"]
import comfy.options
comfy.options.enable_args_parsing()
import comfy.model_management as mm
sys.path.insert(0, repo)
import torch
from comfy_nodes import host
from comfy_nodes.accel import offload
out = {"in_comfyui": host.IN_COMFYUI}
module = torch.nn.Linear(64, 64)
offload.apply_offload(module, "none", mm.get_torch_device())
out["registered"] = host.is_managed_by_comfyui(module)
out["entries"] = len(mm.current_loaded_models)
with offload.on_device(module, mm.get_torch_device()):
    out["entries_in_run"] = len(mm.current_loaded_models)
# A native model beside ours (ComfyUI's own VAE patcher), then a reload of everything loaded,
# as ComfyUI's ControlNet code does: both kinds of entry live in one list, never twice.
import folder_paths, nodes
folder_paths.add_model_folder_path("vae", os.path.join(models, "vae"))
(vae,) = nodes.VAELoader().load_vae(folder_paths.get_filename_list("vae")[0])
nodes.VAEEncode().encode(vae, torch.rand(1, 64, 64, 3))
kinds = lambda: sorted(type(m.model).__name__ for m in mm.current_loaded_models)
out["beside_native"] = kinds()
mm.load_models_gpu(mm.loaded_models())
out["after_reload_all"] = kinds()
mm.unload_all_models()
out["after_unload_all"] = host.is_managed_by_comfyui(module)
out["left_after_unload_all"] = kinds()
with offload.on_device(module, mm.get_torch_device()):
    out["back_for_run"] = host.is_managed_by_comfyui(module)
other = torch.nn.Linear(8, 8)
offload.apply_offload(other, "model", mm.get_torch_device())
with offload.on_device(other, mm.get_torch_device()):
    out["model_mode_in_run"] = host.is_managed_by_comfyui(other)
out["model_mode_after_run"] = host.is_managed_by_comfyui(other)
ref = weakref.ref(module)
del module
gc.collect()
mm.cleanup_models()
out["released"] = ref() is None
out["entries_left"] = len(mm.current_loaded_models)
print("RESULT " + json.dumps(out))
"""


def test_host_placement_goes_through_comfyui_model_management(tmp_path: Path, demo_models: Path) -> None:
    script = tmp_path / "managed.py"
    script.write_text(MANAGED_SCRIPT)
    done = subprocess.run(
        [str(PYTHON), str(script), str(CHECKOUT), str(ROOT), str(demo_models)], capture_output=True, text=True, timeout=300
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    out = json.loads(lines[-1].removeprefix("RESULT "))
    assert out == {
        "in_comfyui": True,
        "registered": True,  # placed with load_models_gpu
        "entries": 1,
        "entries_in_run": 1,  # a run re-lists it, never twice
        "beside_native": ["ManagedModule", "ModelPatcher"],
        "after_reload_all": ["ManagedModule", "ModelPatcher"],
        "after_unload_all": False,  # what /free with unload_models calls
        "left_after_unload_all": [],  # ours and the native one
        "back_for_run": True,
        "model_mode_in_run": True,  # offload="model": managed while it runs ...
        "model_mode_after_run": False,  # ... and handed back afterwards
        "released": True,  # registration never keeps a model alive
        "entries_left": 0,
    }


# ------------------------------------------------------------------ git-URL install

@pytest.fixture(scope="module")
def cloned_comfyui(demo_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """ComfyUI with only a git clone of this repository in custom_nodes/ (ComfyUI-Manager's
    "install via git URL"); yields (url, folder name)."""
    name = f"wan-i2v-clone-{uuid.uuid4().hex[:6]}"
    target = CHECKOUT / "custom_nodes" / name
    subprocess.run(["git", "clone", "--quiet", "--depth", "1", f"file://{ROOT}", str(target)], check=True, timeout=300)
    work = tmp_path_factory.mktemp("comfyui-clone-run")
    args = [*demo_model_paths(demo_models, work), "--disable-all-custom-nodes", "--whitelist-custom-nodes", name]
    try:
        with running(CHECKOUT, PYTHON, work, args) as url:
            yield url, name
    finally:
        shutil.rmtree(target)


def test_git_clone_in_custom_nodes_lists_the_nodes(cloned_comfyui: tuple[str, str]) -> None:
    url, name = cloned_comfyui
    with ComfyClient(url) as client:
        info = client.get("/object_info").json()
    assert PACK_NODES <= set(info), sorted(PACK_NODES - set(info))
    assert info["WanI2VSampler"]["python_module"] == f"custom_nodes.{name}"
    assert info["WanI2VSampler"]["category"].startswith("WAN I2V")

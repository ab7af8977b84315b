"""The released fast workflows (4-step distillation LoRA) run on the demo model with a generated LoRA."""

from __future__ import annotations

import imageio_ffmpeg
import pytest
import torch
from diffusers import WanTransformer3DModel

from comfy_nodes import NODE_CLASS_MAPPINGS
from comfy_nodes.models import demo
from comfy_nodes.pipeline import sampling
from orchestrator.executor import Executor, validate_prompt
from orchestrator.sample_image import draw_sample_image
from orchestrator.workflows import bind, get_workflow

FAST = ("i2v_480p_fast", "i2v_720p_fast")
DISTILL_SIGMAS = [1.0, 0.9375, 0.8333, 0.625, 0.0]  # the lightx2v timesteps [1000, 750, 500, 250], shift 5


@pytest.mark.parametrize("name", FAST)
def test_fast_defaults_are_the_distillation_settings(name):
    workflow = get_workflow(name)
    by_class = {node["class_type"]: node["inputs"] for node in workflow.api.values()}
    sampler = by_class["WanI2VSampler"]
    assert (sampler["steps"], sampler["cfg"], sampler["shift"], sampler["scheduler"]) == (4, 1.0, 5.0, "euler_simple")
    assert "teacache" not in sampler and "WanI2VTeaCache" not in by_class  # no cache at 4 steps
    assert by_class["WanI2VModelLoader"]["weight_dtype"] == "fp8_e4m3fn"
    assert by_class["WanI2VSageAttention"]["backend"] == "sage"
    lora_node = by_class["WanI2VLoraLoader"]
    assert lora_node["lora_name"] == "lightx2v_I2V_14B_480p_cfg_step_distill_rank64_bf16.safetensors"
    assert lora_node["strength"] == 1.0
    # model -> LoRA -> attention -> sampler
    assert workflow.api[sampler["model"][0]]["class_type"] == "WanI2VSageAttention"
    assert workflow.api[workflow.api[sampler["model"][0]]["inputs"]["model"][0]]["class_type"] == "WanI2VLoraLoader"
    manifest = workflow.manifest
    assert manifest.parameter("distill_lora").model_kind == "loras"
    raw = (workflow.path / "manifest.json").read_text()
    assert '"trades"' in raw and '"requires"' in raw and "models/loras/" in raw


def test_euler_simple_runs_on_the_distillation_timesteps():
    sched = sampling.make_scheduler("euler_simple", 5.0)
    sampling.set_steps(sched, 4)
    assert sched.sigmas.tolist() == pytest.approx(DISTILL_SIGMAS, abs=1e-4)
    plain = sampling.make_scheduler("euler", 5.0)
    sampling.set_steps(plain, 4)
    assert plain.sigmas.tolist() != pytest.approx(DISTILL_SIGMAS, abs=1e-3)  # diffusers' default grid is not it


@pytest.fixture
def passes(monkeypatch):
    """Every transformer pass, with the dtype its block weights are stored in."""
    seen: list[torch.dtype] = []
    original = WanTransformer3DModel.forward

    def counted(self, *args, **kwargs):
        seen.append(self.blocks[0].attn1.to_q.weight.dtype)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(WanTransformer3DModel, "forward", counted)
    return seen


@pytest.mark.e2e
@pytest.mark.parametrize("name", FAST)
def test_fast_workflow_runs_four_single_pass_steps_to_an_mp4(name, host_dirs, passes):
    draw_sample_image(host_dirs["input"] / "start.png", 96, 64)
    params = {
        "diffusion_model": demo.FILES["diffusion_models"],
        "text_encoder": demo.FILES["text_encoders"],
        "clip_vision": demo.FILES["clip_vision"],
        "vae": demo.FILES["vae"],
        "distill_lora": demo.FILES["loras"],  # the demo's random LoRA in the lightx2v layout (pairs, diffs, biases)
        "resolution": "custom",
        "width": 64,
        "height": 48,
        "num_frames": 5,
        "prompt": "a boat on the sea",
        "filename_prefix": f"demo/{name}",
    }
    prompt = bind(get_workflow(name), params, image="start.png")
    result = Executor(NODE_CLASS_MAPPINGS).execute(validate_prompt(prompt, NODE_CLASS_MAPPINGS), name, None)

    stats = result.outputs["10"]["wan_stats"][0]
    assert (stats["steps"], stats["cfg"], stats["scheduler"]) == (4, 1.0, "euler_simple")
    assert stats["passes"] == {"cond": {"computed": 4, "skipped": 0}}
    assert len(passes) == 4 and set(passes) == {torch.float8_e4m3fn}  # one pass per step, on fp8 weights
    assert stats["loras"] == [{"name": demo.FILES["loras"], "strength": 1.0, "skipped_keys": 0}]
    assert stats["lora_modes"]["adapter"] == 24  # adapters over the fp8 weights; norms and biases fused
    if not torch.cuda.is_available():
        assert stats["attention"] == "sdpa" and stats["attention_fallback_reason"]  # sage needs a GPU

    saved = result.outputs["12"]["images"][0]
    video = host_dirs["output"] / saved["subfolder"] / saved["filename"]
    assert video.suffix == ".mp4" and video.read_bytes()[4:8] == b"ftyp"
    reader = imageio_ffmpeg.read_frames(str(video))
    meta = next(reader)
    frames = sum(1 for _ in reader)
    assert meta["size"] == (64, 48) and frames == 5

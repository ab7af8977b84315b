"""WanI2VLoraLoader on the demo model, through the real sampler."""

from __future__ import annotations

import copy

import pytest
import torch
from safetensors.torch import save_file

from comfy_nodes import NODE_CLASS_MAPPINGS
from comfy_nodes.accel import lora_patch
from comfy_nodes.errors import ModelNotFoundError
from comfy_nodes.models import demo, loaders, lora_demo
from comfy_nodes.nodes.encode import WanI2VImageEncode
from comfy_nodes.nodes.lora import WanI2VLoraLoader
from comfy_nodes.pipeline import sampling, text
from comfy_nodes.pipeline.types import WanModel


@pytest.fixture(scope="module")
def parts(demo_models):
    paths = demo.demo_paths(demo_models)
    model = loaders.load_transformer(paths["diffusion_models"])
    vae = loaders.load_vae(paths["vae"])
    clip = loaders.load_clip_vision(paths["clip_vision"])
    encoder = loaders.load_text_encoder(paths["text_encoders"])
    image = torch.rand(1, 40, 56, 3, generator=torch.Generator().manual_seed(3))
    embeds = WanI2VImageEncode().encode(clip, vae, image, "custom", 48, 32, 5)[0]
    yield model, text.encode_prompts(encoder, "a boat", "blurry"), embeds
    lora_patch.remove(model.transformer)


@pytest.fixture
def loras(host_dirs, demo_models, parts):
    """Two LoRA files in models/loras (ComfyUI and kohya keys) and the changes they hold."""
    folder = demo_models / "loras"
    folder.mkdir(exist_ok=True)
    transformer = parts[0].transformer
    drawn = {}
    for name, fmt, seed in (("style_comfy.safetensors", "comfy", 1), ("detail_kohya.safetensors", "kohya", 2)):
        drawn[name] = lora_demo.draw_lora(transformer, seed=seed, magnitude=0.2)
        save_file(lora_demo.to_state_dict(drawn[name], fmt), folder / name)
    return drawn


def _sample(model: WanModel, parts) -> torch.Tensor:
    _, prompts, embeds = parts
    return sampling.sample(model, prompts, embeds, steps=2, cfg=5.0, shift=3.0, seed=1, scheduler="euler").samples


def _hand_merged(model: WanModel, *pairs) -> WanModel:
    transformer = copy.deepcopy(model.transformer)
    lora_patch.remove(transformer)
    for drawn, strength in pairs:
        lora_demo.merge_by_hand(transformer, drawn, strength)
    return WanModel(transformer=transformer, dtype=model.dtype, source=model.source, options=dict(model.options))


def test_node_metadata_and_registration(loras):
    assert NODE_CLASS_MAPPINGS["WanI2VLoraLoader"] is WanI2VLoraLoader
    spec = WanI2VLoraLoader.INPUT_TYPES()["required"]
    assert list(spec) == ["model", "lora_name", "strength"]
    assert {"style_comfy.safetensors", "detail_kohya.safetensors"} <= set(spec["lora_name"][0])
    assert all(options.get("tooltip") for _, options in spec.values())
    assert WanI2VLoraLoader.RETURN_TYPES == ("WAN_MODEL",) and WanI2VLoraLoader.OUTPUT_TOOLTIPS
    assert WanI2VLoraLoader.VALIDATE_INPUTS("style_comfy.safetensors") is True
    assert "not found" in WanI2VLoraLoader.VALIDATE_INPUTS("missing.safetensors")
    with pytest.raises(ModelNotFoundError, match="inside"):
        WanI2VLoraLoader().load(parts_model_stub(), "../escape.safetensors")


def parts_model_stub() -> WanModel:
    return WanModel(transformer=None, dtype=torch.float32, source="x", options={})


def test_chain_samples_like_a_hand_merge_and_leaves_the_cached_model_alone(loras, parts):
    base_model = parts[0]
    options_before = dict(base_model.options)
    base = _sample(base_model, parts)

    (one,) = WanI2VLoraLoader().load(base_model, "style_comfy.safetensors", 0.8)
    (two,) = WanI2VLoraLoader().load(one, "detail_kohya.safetensors", 0.5)
    assert base_model.options == options_before and "loras" not in base_model.options  # the input is not changed
    assert len(one.options["loras"]) == 1 and len(two.options["loras"]) == 2

    expected_one = _sample(_hand_merged(base_model, (loras["style_comfy.safetensors"], 0.8)), parts)
    expected_two = _sample(
        _hand_merged(base_model, (loras["style_comfy.safetensors"], 0.8), (loras["detail_kohya.safetensors"], 0.5)), parts
    )
    torch.testing.assert_close(_sample(two, parts), expected_two, rtol=0, atol=1e-5)
    torch.testing.assert_close(_sample(one, parts), expected_one, rtol=0, atol=1e-5)
    assert (expected_two - base).abs().max() > 1e-3

    # The cached base model, sampled again after the LoRA runs, is the base model bit for bit.
    assert torch.equal(_sample(base_model, parts), base)
    (zero,) = WanI2VLoraLoader().load(base_model, "style_comfy.safetensors", 0.0)
    assert torch.equal(_sample(zero, parts), base)


def test_run_summary_names_the_loras(loras, parts):
    (one,) = WanI2VLoraLoader().load(parts[0], "style_comfy.safetensors", 1.0)
    _, prompts, embeds = parts
    stats = sampling.sample(one, prompts, embeds, steps=1, cfg=1.0, shift=3.0, seed=0, scheduler="euler").stats
    assert stats["loras"] == [{"name": "style_comfy.safetensors", "strength": 1.0, "skipped_keys": 0}]
    assert stats["lora_modes"] == {"fused": 24}

"""WanI2VTeaCache and WanI2VSageAttention nodes."""

from __future__ import annotations

import pytest
import torch
from diffusers import WanTransformer3DModel

from comfy_nodes.accel import teacache
from comfy_nodes.errors import ParameterError
from comfy_nodes.nodes.accel import WanI2VSageAttention, WanI2VTeaCache
from comfy_nodes.pipeline.types import WanModel


@pytest.mark.parametrize("node", [WanI2VTeaCache, WanI2VSageAttention])
def test_node_metadata(node):
    spec = node.INPUT_TYPES()
    assert set(spec) <= {"required", "optional"}
    assert all(options.get("tooltip") for section in spec.values() for _, options in section.values())
    assert node.CATEGORY == "WAN I2V/acceleration"
    assert node.DESCRIPTION and len(node.OUTPUT_TOOLTIPS) == len(node.RETURN_TYPES) == 1
    assert callable(getattr(node, node.FUNCTION))


def test_teacache_inputs():
    required = WanI2VTeaCache.INPUT_TYPES()["required"]
    assert list(required) == ["threshold", "start_step", "end_percent", "coefficients", "cache_device"]
    threshold = required["threshold"]
    assert threshold[0] == "FLOAT"
    assert {k: threshold[1][k] for k in ("default", "min", "max", "step")} == {"default": 0.0, "min": 0.0, "max": 1.0, "step": 0.01}
    assert all(value in threshold[1]["tooltip"] for value in ("0.26", "0.25", "0.30"))
    assert required["start_step"][0] == "INT"
    assert {k: required["start_step"][1][k] for k in ("default", "min", "max")} == {"default": 1, "min": 0, "max": 200}
    assert required["end_percent"][1]["default"] == 1.0
    assert required["coefficients"][0] == ["auto", "480p", "720p", "480p_ret", "720p_ret"]
    assert required["cache_device"][0] == ["main", "cpu"]
    assert WanI2VTeaCache.RETURN_TYPES == ("WAN_TEACACHE",) and WanI2VTeaCache.FUNCTION == "settings"


def test_teacache_node_returns_settings():
    (settings,) = WanI2VTeaCache().settings(
        threshold=0.3, start_step=2, end_percent=0.8, coefficients="480p_ret", cache_device="cpu"
    )
    assert settings == teacache.TeaCacheSettings(
        threshold=0.3, start_step=2, end_step=None, end_percent=0.8, coefficients="480p_ret", cache_device="cpu"
    )
    assert settings.enabled
    assert not WanI2VTeaCache().settings()[0].enabled  # default threshold 0 = off
    with pytest.raises(ParameterError):
        WanI2VTeaCache().settings(threshold=0.2, coefficients="1080p")


def test_sage_node_returns_a_clone():
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(
        num_attention_heads=2, attention_head_dim=16, in_channels=36, out_channels=16, text_dim=32,
        freq_dim=32, ffn_dim=64, num_layers=1, image_dim=24, added_kv_proj_dim=32,
    )
    model = WanModel(transformer=transformer, dtype=torch.float32, source="wan_480p.safetensors", options={"offload": "none"})
    required = WanI2VSageAttention.INPUT_TYPES()["required"]
    assert required["model"][0] == "WAN_MODEL"
    assert required["backend"][0] == ["auto", "sdpa", "sage"] and required["backend"][1]["default"] == "auto"

    (clone,) = WanI2VSageAttention().apply(model, "sage")

    assert clone is not model
    assert clone.options == {"offload": "none", "attention": "sage"}
    assert model.options == {"offload": "none"}  # the input is left unchanged
    assert clone.transformer is transformer and clone.source == model.source
    with pytest.raises(ParameterError):
        WanI2VSageAttention().apply(model, "flash")


def test_teacache_node_end_step_overrides_end_percent():
    from comfy_nodes.nodes.accel import WanI2VTeaCache

    (by_step,) = WanI2VTeaCache().settings(threshold=0.2, end_percent=1.0, end_step=7)
    (by_percent,) = WanI2VTeaCache().settings(threshold=0.2, end_percent=0.5)
    assert by_step.for_run(num_steps=20, resolution_class="480p").end_step == 7
    assert by_percent.for_run(num_steps=20, resolution_class="480p").end_step == 10

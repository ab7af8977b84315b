"""WanI2VMagCache and WanI2VFirstBlockCache on the demo model, through the sampler."""

from __future__ import annotations

import pytest
import torch

from comfy_nodes import NODE_CLASS_MAPPINGS
from comfy_nodes.accel import teacache
from comfy_nodes.errors import ParameterError
from comfy_nodes.models import demo, loaders
from comfy_nodes.nodes.cache import WanI2VFirstBlockCache, WanI2VMagCache
from comfy_nodes.nodes.encode import WanI2VImageEncode
from comfy_nodes.pipeline import sampling, text


@pytest.fixture(scope="module")
def parts(demo_models):
    paths = demo.demo_paths(demo_models)
    model = loaders.load_transformer(paths["diffusion_models"])
    clip = loaders.load_clip_vision(paths["clip_vision"])
    vae = loaders.load_vae(paths["vae"])
    encoder = loaders.load_text_encoder(paths["text_encoders"])
    image = torch.rand(1, 40, 56, 3, generator=torch.Generator().manual_seed(3))
    embeds = WanI2VImageEncode().encode(clip, vae, image, "custom", 48, 32, 5)[0]
    return model, text.encode_prompts(encoder, "a boat", "blurry"), embeds


def _sample(model, parts, steps=12, teacache_settings=None):
    _, prompts, embeds = parts
    return sampling.sample(
        model, prompts, embeds, steps=steps, cfg=5.0, shift=3.0, seed=2, scheduler="unipc", teacache=teacache_settings
    )


@pytest.mark.parametrize("node", [WanI2VMagCache, WanI2VFirstBlockCache])
def test_node_metadata(node):
    spec = node.INPUT_TYPES()
    assert all(options.get("tooltip") for section in spec.values() for _, options in section.values())
    assert node.CATEGORY == "WAN I2V/acceleration" and node.RETURN_TYPES == ("WAN_MODEL",)
    assert NODE_CLASS_MAPPINGS[node.__name__] is node
    assert spec["required"]["threshold"][1]["default"] == (0.24 if node is WanI2VMagCache else 0.05)


@pytest.mark.parametrize(
    ("node", "kwargs"), [(WanI2VMagCache, {"threshold": 0.24}), (WanI2VFirstBlockCache, {"threshold": 0.6})]
)
def test_skipped_passes_are_reported_like_teacache(parts, node, kwargs):
    base_model = parts[0]
    plain = _sample(base_model, parts)
    (cached_model,) = node().apply(base_model, **kwargs)
    assert "cache" not in base_model.options  # the input model is left as it was
    result = _sample(cached_model, parts)
    passes = result.stats["passes"]
    assert set(passes) == {"cond", "uncond"} == set(plain.stats["passes"])
    assert all(b["computed"] + b["skipped"] == 12 for b in passes.values())
    assert sum(b["skipped"] for b in passes.values()) > 0
    assert result.stats["cache"]["kind"] == ("magcache" if node is WanI2VMagCache else "fbc")
    assert not torch.equal(result.samples, plain.samples)
    # The cache is gone after the run: the base model samples exactly as before.
    assert not base_model.transformer.is_cache_enabled
    assert torch.equal(_sample(base_model, parts).samples, plain.samples)


def test_one_cache_per_model(parts):
    (mag,) = WanI2VMagCache().apply(parts[0])
    with pytest.raises(ParameterError, match="already has MagCache.*one cache per model"):
        WanI2VFirstBlockCache().apply(mag)
    tea = teacache.TeaCacheSettings(threshold=0.2)
    with pytest.raises(ParameterError, match="MagCache.*TeaCache.*one cache per model"):
        _sample(mag, parts, steps=3, teacache_settings=tea)
    assert not parts[0].transformer.is_cache_enabled
    (off,) = WanI2VMagCache().apply(parts[0], threshold=0.0)  # threshold 0 = off: TeaCache may run
    assert _sample(off, parts, steps=3, teacache_settings=tea).stats["teacache_threshold"] == 0.2

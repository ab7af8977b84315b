"""WanI2VMagCache, WanI2VFirstBlockCache and WanI2VCache on the demo model, through the sampler."""

from __future__ import annotations

import pytest
import torch

from comfy_nodes import NODE_CLASS_MAPPINGS
from comfy_nodes.accel import teacache
from comfy_nodes.accel.diffusers_cache import CacheSettings
from comfy_nodes.errors import ParameterError
from comfy_nodes.models import demo, loaders
from comfy_nodes.nodes.cache import WanI2VCache, WanI2VFirstBlockCache, WanI2VMagCache
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


@pytest.mark.parametrize("node", [WanI2VMagCache, WanI2VFirstBlockCache, WanI2VCache])
def test_node_metadata(node):
    spec = node.INPUT_TYPES()
    assert all(options.get("tooltip") for section in spec.values() for _, options in section.values())
    assert node.CATEGORY == "WAN I2V/acceleration" and node.RETURN_TYPES == ("WAN_MODEL",)
    assert NODE_CLASS_MAPPINGS[node.__name__] is node
    defaults = {WanI2VMagCache: 0.24, WanI2VFirstBlockCache: 0.05, WanI2VCache: 0.0}  # WanI2VCache: 0 = published
    assert spec["required"]["threshold"][1]["default"] == defaults[node]


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


# threshold 0 = the published value. FirstBlockCache's 0.05 skips nothing on this demo run (its
# random blocks change more per step than WAN's), so it is also run at 0.6.
@pytest.mark.parametrize(
    ("cache", "threshold", "expected"),
    [("teacache", 0.0, 0.26), ("magcache", 0.0, 0.24), ("fbc", 0.6, 0.6), ("teacache", 0.3, 0.3)],
)
def test_cache_node_runs_the_chosen_cache(parts, cache, threshold, expected):
    base_model = parts[0]
    (model,) = WanI2VCache().apply(base_model, cache=cache, threshold=threshold)
    assert "cache" not in base_model.options and "teacache" not in base_model.options  # the input is left as it was
    result = _sample(model, parts)
    passes = result.stats["passes"]
    assert set(passes) == {"cond", "uncond"}
    assert all(b["computed"] + b["skipped"] == 12 for b in passes.values())
    assert sum(b["skipped"] for b in passes.values()) > 0
    assert (result.stats["cache"]["kind"], result.stats["cache"]["threshold"]) == (cache, expected)
    assert not base_model.transformer.is_cache_enabled and not teacache.is_active(base_model.transformer)


def test_cache_node_none_and_published_values(parts):
    (same,) = WanI2VCache().apply(parts[0], cache="none", threshold=0.5)
    assert same is parts[0]
    result = _sample(same, parts, steps=3)
    assert all(b["skipped"] == 0 for b in result.stats["passes"].values()) and "cache" not in result.stats
    # The demo model's file name says 480p; 720p asks for the 720P calibration and its default.
    (tea720,) = WanI2VCache().apply(parts[0], cache="teacache", resolution="720p")
    assert tea720.options["teacache"] == teacache.TeaCacheSettings(threshold=0.25, coefficients="720p")
    (fbc,) = WanI2VCache().apply(parts[0], cache="fbc")
    assert fbc.options["cache"] == CacheSettings("fbc", 0.05)
    (mag720,) = WanI2VCache().apply(parts[0], cache="magcache", resolution="720p")
    assert (mag720.options["cache"].threshold, mag720.options["cache"].ratios) == (0.24, "720p")


def test_cache_node_bad_values_and_one_cache_per_model(parts):
    node = WanI2VCache()
    with pytest.raises(ParameterError, match="cache must be one of none, teacache, magcache, fbc, got 'easycache'"):
        node.apply(parts[0], cache="easycache")
    with pytest.raises(ParameterError, match="threshold must be between 0 and 2, got -0.1; use 0 for"):
        node.apply(parts[0], cache="magcache", threshold=-0.1)
    with pytest.raises(ParameterError, match="resolution must be one of auto, 480p, 720p"):
        node.apply(parts[0], cache="fbc", resolution="1080p")
    (tea,) = node.apply(parts[0], cache="teacache")
    with pytest.raises(ParameterError, match="already has TeaCache.*one cache per model"):
        WanI2VMagCache().apply(tea)
    with pytest.raises(ParameterError, match="already has TeaCache.*one cache per model"):
        node.apply(tea, cache="fbc")
    (fbc,) = node.apply(parts[0], cache="fbc")
    with pytest.raises(ParameterError, match="already has FirstBlockCache.*before adding TeaCache"):
        node.apply(fbc, cache="teacache")
    # TeaCache from the cache node and from the sampler's teacache input at once.
    with pytest.raises(ParameterError, match="already has TeaCache from its cache node.*one cache per model"):
        _sample(tea, parts, steps=3, teacache_settings=teacache.TeaCacheSettings(threshold=0.2))
    assert not teacache.is_active(parts[0].transformer)
    off = teacache.TeaCacheSettings(threshold=0.0)  # an unused TeaCache node (threshold 0) is fine
    assert _sample(tea, parts, steps=3, teacache_settings=off).stats["cache"]["kind"] == "teacache"

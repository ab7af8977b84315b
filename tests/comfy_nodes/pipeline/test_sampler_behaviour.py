"""The sampler: same seed -> same frames; progress every step; interrupt between steps."""

from __future__ import annotations

import pytest
import torch

from comfy_nodes import host
from comfy_nodes.errors import Interrupted, ParameterError
from comfy_nodes.models import loaders
from comfy_nodes.nodes.encode import WanI2VImageEncode
from comfy_nodes.nodes.sampling import WanI2VSampler
from comfy_nodes.pipeline import sampling, text
from comfy_nodes.pipeline.decode import decode_latent


@pytest.fixture(scope="module")
def parts(demo_models):
    from comfy_nodes.models import demo

    paths = demo.demo_paths(demo_models)
    model = loaders.load_transformer(paths["diffusion_models"])
    vae = loaders.load_vae(paths["vae"])
    clip = loaders.load_clip_vision(paths["clip_vision"])
    encoder = loaders.load_text_encoder(paths["text_encoders"])
    image = torch.rand(1, 40, 56, 3, generator=torch.Generator().manual_seed(3))
    embeds = WanI2VImageEncode().encode(clip, vae, image, "custom", 48, 32, 5)[0]
    return model, vae, text.encode_prompts(encoder, "a boat", "blurry"), embeds


def _sample(parts, seed: int, steps: int = 3, scheduler: str = "unipc"):
    model, vae, prompts, embeds = parts
    latent = sampling.sample(model, prompts, embeds, steps=steps, cfg=5.0, shift=3.0, seed=seed, scheduler=scheduler)
    return latent, decode_latent(vae, latent)


@pytest.mark.parametrize("scheduler", sampling.SCHEDULERS)
def test_same_seed_same_frames(parts, scheduler):
    _, a = _sample(parts, seed=7, scheduler=scheduler)
    _, b = _sample(parts, seed=7, scheduler=scheduler)
    _, c = _sample(parts, seed=8, scheduler=scheduler)
    assert a.shape == (5, 32, 48, 3)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_progress_reported_every_step(parts):
    seen = []
    host.set_progress_hook(lambda value, total, preview: seen.append((value, total)))
    try:
        _sample(parts, seed=1, steps=4)
    finally:
        host.set_progress_hook(None)
    # Four sampler steps, then the decode's two latent frames (5 frames = 2 latent frames).
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4), (1, 2), (2, 2)]


def test_interrupt_stops_between_steps(parts):
    seen = []

    def hook(value, total, preview):
        seen.append(value)
        if value == 2:
            host.request_interrupt()

    host.set_progress_hook(hook)
    try:
        with pytest.raises(Interrupted):
            _sample(parts, seed=1, steps=6)
    finally:
        host.set_progress_hook(None)
        host.clear_interrupt()
    assert seen == [1, 2]


@pytest.mark.parametrize("threshold", [0.0, 0.3])
def test_an_interrupt_during_a_pass_stops_before_the_next_pass(parts, threshold):
    # Requested while step 2's cond pass runs: its uncond pass must not start (a 14B pass
    # takes up to a minute), with TeaCache off and on.
    from comfy_nodes.accel.teacache import TeaCacheSettings

    model, _, prompts, embeds = parts
    passes = []

    def count(module, args, kwargs):
        passes.append(1)
        if len(passes) == 3:  # step 1: cond, uncond; step 2: cond
            host.request_interrupt()

    handle = model.transformer.register_forward_pre_hook(count, with_kwargs=True)
    try:
        with pytest.raises(Interrupted):
            sampling.sample(model, prompts, embeds, steps=6, cfg=5.0, shift=3.0, seed=1,
                            teacache=TeaCacheSettings(threshold=threshold))  # fmt: skip
    finally:
        handle.remove()
        host.clear_interrupt()
    assert len(passes) == 3


def test_cfg_one_runs_a_single_branch(parts):
    model, _, prompts, embeds = parts
    latent = sampling.sample(model, prompts, embeds, steps=2, cfg=1.0, shift=3.0, seed=0)
    assert set(latent.stats["passes"]) == {"cond"}


def test_bad_values_are_rejected(parts):
    with pytest.raises(ParameterError, match="scheduler"):
        sampling.make_scheduler("ddim", 3.0)
    with pytest.raises(ParameterError, match="9 or 13"):
        WanI2VImageEncode().encode(None, None, torch.rand(1, 8, 8, 3), "custom", 48, 32, 10)
    with pytest.raises(ParameterError, match="multiple of 16"):
        WanI2VImageEncode().encode(None, None, torch.rand(1, 8, 8, 3), "custom", 50, 32, 9)
    with pytest.raises(ParameterError, match="shift must be above 0"):
        sampling.sample(parts[0], parts[2], parts[3], steps=2, cfg=1.0, shift=0.0, seed=0)
    assert "shift must be above 0" in WanI2VSampler.VALIDATE_INPUTS(shift=0.0)
    assert WanI2VSampler.VALIDATE_INPUTS(shift=5.0) is True
    check = WanI2VImageEncode.VALIDATE_INPUTS
    assert "9 or 13" in check("480p", 832, 480, 10)
    assert "at most 1001" in check("480p", 832, 480, 2001)
    assert "multiple of 16" in check("custom", 100, 480, 81)
    assert "at most 2048" in check("custom", 4096, 480, 81)
    assert "resolution must be one of" in check("1080p", 832, 480, 81)
    assert check("480p", 100, 480, 81) is True  # width/height only matter for custom
    assert check("custom", 832, 480, 81) is True

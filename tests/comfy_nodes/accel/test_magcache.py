"""MagCache and FirstBlockCache through diffusers' hooks: presets, skipped passes, one cache per model."""

from __future__ import annotations

import pytest
import torch

from comfy_nodes.accel import diffusers_cache
from comfy_nodes.accel.diffusers_cache import MAG_RATIOS, CacheSettings
from comfy_nodes.errors import ParameterError


def test_published_wan_i2v_ratios_are_the_cond_branch_for_40_steps():
    for preset in ("480p", "720p"):
        ratios = MAG_RATIOS[preset]
        assert len(ratios) == 40 and ratios[0] == 1.0
        assert all(0.8 < r <= 1.0 for r in ratios)
    assert MAG_RATIOS["480p"][1:3] == (0.98783, 0.97559)  # every other published value: cond, not uncond
    assert MAG_RATIOS["720p"][-1] == 0.8679
    config = CacheSettings("magcache", 0.24).config(40, "720p")
    assert (config.threshold, config.max_skip_steps, config.retention_ratio) == (0.24, 6, 0.2)
    assert torch.allclose(config.mag_ratios, torch.tensor(MAG_RATIOS["720p"]))
    assert len(CacheSettings("magcache", 0.24).config(10, None).mag_ratios) == 10  # interpolated by diffusers


def test_settings_are_checked():
    with pytest.raises(ParameterError, match="one of"):
        CacheSettings("teacache", 0.2)
    with pytest.raises(ParameterError, match="K"):
        CacheSettings("magcache", 0.2, max_skip_steps=0)
    with pytest.raises(ParameterError, match="ratios"):
        CacheSettings("magcache", 0.2, ratios="1080p")
    assert not CacheSettings("fbc", 0.0).enabled


def _loop(model, inputs, run_loop, steps):
    return run_loop(model, inputs, [1000.0 * (1 - i / steps) for i in range(steps)])


@pytest.mark.parametrize(("settings", "steps"), [(CacheSettings("magcache", 0.24), 20), (CacheSettings("fbc", 0.6), 12)])
def test_skipped_passes_are_counted_per_branch_and_removal_restores(tiny_model, tiny_inputs, run_loop, settings, steps):
    plain = _loop(tiny_model, tiny_inputs, run_loop, steps)
    diffusers_cache.apply(tiny_model, settings, steps, "480p")
    try:
        cached = _loop(tiny_model, tiny_inputs, run_loop, steps)
        counts = diffusers_cache.stats(tiny_model)
    finally:
        diffusers_cache.remove(tiny_model)
    assert set(counts) == {"cond", "uncond"}
    for branch in counts.values():
        assert branch["computed"] + branch["skipped"] == steps
        assert branch["skipped"] > 0 and branch["computed"] >= 1
    # Computed passes match the uncached ones until the first skip; skipped ones differ.
    assert torch.equal(cached[0], plain[0]) and torch.equal(cached[1], plain[1])
    assert any(not torch.equal(a, b) for a, b in zip(cached, plain))
    assert not tiny_model.is_cache_enabled and diffusers_cache.stats(tiny_model) == {}
    again = _loop(tiny_model, tiny_inputs, run_loop, steps)
    assert all(torch.equal(a, b) for a, b in zip(again, plain))


def test_magcache_keeps_the_retention_steps_and_k(tiny_model, tiny_inputs, run_loop):
    steps = 20
    decisions = []
    diffusers_cache.apply(tiny_model, CacheSettings("magcache", 10.0, max_skip_steps=2, retention_ratio=0.25), steps)
    counter = diffusers_cache._runs[tiny_model][0]
    try:
        def record(step):
            decisions.append(counter.counts["cond"]["skipped"])

        run_loop(tiny_model, tiny_inputs, [1000.0 * (1 - i / steps) for i in range(steps)], after_step=record)
    finally:
        diffusers_cache.remove(tiny_model)
    skipped_at = [i for i in range(steps) if decisions[i] > (decisions[i - 1] if i else 0)]
    assert min(skipped_at) >= 5  # the first 25% are always computed
    runs, last = 0, -2  # never more than K = 2 skips in a row
    for i in skipped_at:
        runs = runs + 1 if i == last + 1 else 1
        last = i
        assert runs <= 2


def test_a_threshold_of_zero_attaches_nothing(tiny_model):
    diffusers_cache.apply(tiny_model, CacheSettings("magcache", 0.0), 10)
    assert not tiny_model.is_cache_enabled and diffusers_cache.stats(tiny_model) == {}

"""Offload modes on a CPU-only machine: same numbers as no offload."""

from __future__ import annotations

import pytest
import torch

from comfy_nodes.accel import fp8, offload, teacache
from comfy_nodes.errors import ParameterError

CPU = torch.device("cpu")
TIMESTEPS = [900.0, 700.0, 500.0, 300.0]


def _copy(model: torch.nn.Module, build) -> torch.nn.Module:
    clone = build()
    clone.load_state_dict(model.state_dict())
    return clone


@pytest.mark.parametrize("mode", ["none", "model", "blocks"])
def test_every_mode_computes_the_same_outputs(mode, tiny_model, tiny_inputs, run_loop, tiny_factory):
    reference = run_loop(tiny_model, tiny_inputs, TIMESTEPS)
    model = _copy(tiny_model, tiny_factory)
    offload.apply_offload(model, mode, CPU)
    assert offload.offload_mode(model) == mode

    with offload.on_device(model, CPU):
        outputs = run_loop(model, tiny_inputs, TIMESTEPS)

    assert all(torch.equal(a, b) for a, b in zip(reference, outputs))
    assert all(p.device == CPU for p in model.parameters())


def test_blocks_mode_uses_group_offloading_hooks(tiny_model):
    offload.apply_offload(tiny_model, "blocks", CPU)
    hooked = [i for i, block in enumerate(tiny_model.blocks) if block._diffusers_hook.get_hook("group_offloading")]
    assert hooked == list(range(len(tiny_model.blocks)))
    offload.apply_offload(tiny_model, "blocks", CPU)  # applying it again is a no-op
    with pytest.raises(ParameterError):
        offload.apply_offload(tiny_model, "model", CPU)


def test_blocks_offload_with_fp8_and_teacache(tiny_model, tiny_inputs, run_loop, tiny_factory):
    # Loader order: fp8 storage, then offload; the sampler adds TeaCache on top.
    reference_model = _copy(tiny_model, tiny_factory)
    fp8.apply_fp8(reference_model, "fp8_e4m3fn", torch.float32)
    config = teacache.TeaCacheConfig(threshold=0.1, coefficients=(1.0, 0.0), num_steps=len(TIMESTEPS))
    teacache.apply_teacache(reference_model, config)
    reference = run_loop(reference_model, tiny_inputs, [500.0] * len(TIMESTEPS))

    fp8.apply_fp8(tiny_model, "fp8_e4m3fn", torch.float32)
    offload.apply_offload(tiny_model, "blocks", CPU)
    teacache.apply_teacache(tiny_model, config)
    outputs = run_loop(tiny_model, tiny_inputs, [500.0] * len(TIMESTEPS))

    assert teacache.teacache_stats(tiny_model) == teacache.teacache_stats(reference_model)
    assert teacache.teacache_stats(tiny_model)["cond"]["skipped"] == len(TIMESTEPS) - 2
    assert all(torch.equal(a, b) for a, b in zip(reference, outputs))


def test_on_device_is_a_no_op_without_model_offload(tiny_model):
    with offload.on_device(tiny_model, CPU):
        pass
    assert offload.offload_mode(tiny_model) == "none"


def test_unknown_mode_is_rejected(tiny_model):
    with pytest.raises(ParameterError):
        offload.apply_offload(tiny_model, "disk", CPU)

"""LoRA conversion (every format) and the patch engine, against weights merged by hand."""

from __future__ import annotations

import copy

import pytest
import torch

from comfy_nodes.accel import fp8, lora_patch
from comfy_nodes.accel.lora_patch import LoraPatch
from comfy_nodes.errors import ModelFormatError
from comfy_nodes.models import lora, lora_demo



def forward(model: torch.nn.Module, inputs: dict[str, torch.Tensor], timestep: float) -> torch.Tensor:
    with torch.no_grad():
        return model(
            hidden_states=inputs["hidden_states"],
            timestep=torch.tensor([timestep]),
            encoder_hidden_states=inputs["encoder_hidden_states"],
            encoder_hidden_states_image=inputs["encoder_hidden_states_image"],
            return_dict=False,
        )[0]


def _converted(model, drawn, fmt, name=None):
    return lora.convert_lora(lora_demo.to_state_dict(drawn, fmt), model, name=name or fmt)


def _hand_merged(model, *pairs):
    ref = copy.deepcopy(model)
    for drawn, strength in pairs:
        lora_demo.merge_by_hand(ref, drawn, strength)
    return ref


@pytest.fixture
def model(tiny_model):
    yield tiny_model
    lora_patch.remove(tiny_model)


@pytest.mark.parametrize("fmt", lora_demo.FORMATS)
def test_each_format_equals_the_hand_merge(model, tiny_inputs, fmt):
    drawn = lora_demo.draw_lora(
        model, seed=1, biases=fmt in ("diffusers", "lightx2v"), full_deltas=fmt == "lightx2v", magnitude=0.2
    )
    weights = _converted(model, drawn, fmt)
    assert weights.skipped == [] and weights.notes == []
    assert len(weights.low_rank) == 2 * len(lora_demo.BLOCK_LINEARS)  # image cross-attention included
    base = forward(model, tiny_inputs, 500.0)
    expected = forward(_hand_merged(model, (drawn, 0.7)), tiny_inputs, 500.0)

    modes = lora_patch.sync(model, (LoraPatch(weights, 0.7),))
    assert modes["fused"] == 24
    got = forward(model, tiny_inputs, 500.0)
    assert (expected - base).abs().max() > 1e-2  # the LoRA changes the output
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)


def test_conversion_leaves_the_file_dict_alone(model):
    """diffusers' converter scales some tensors in place; converting twice must give the same result."""
    drawn = lora_demo.draw_lora(model, seed=2)
    sd = lora_demo.to_state_dict(drawn, "comfy")
    before = {k: v.clone() for k, v in sd.items()}
    first = lora.convert_lora(sd, model)
    second = lora.convert_lora(sd, model)
    assert all(torch.equal(sd[k], before[k]) for k in sd)
    for module, (a, b) in first.low_rank.items():
        assert torch.equal(a, second.low_rank[module][0]) and torch.equal(b, second.low_rank[module][1])


def test_strength_zero_is_the_base_model_exactly(model, tiny_inputs):
    base = forward(model, tiny_inputs, 700.0)
    weights = _converted(model, lora_demo.draw_lora(model, seed=3), "comfy")
    assert lora_patch.sync(model, (LoraPatch(weights, 0.0),)) == {}
    assert torch.equal(forward(model, tiny_inputs, 700.0), base)


def test_two_loras_compose_and_removal_restores_bit_for_bit(model, tiny_inputs):
    params = {k: v.clone() for k, v in model.state_dict().items()}
    base = forward(model, tiny_inputs, 300.0)
    first, second = lora_demo.draw_lora(model, seed=4), lora_demo.draw_lora(model, seed=5, rank=2, alpha=2.0)
    a, b = _converted(model, first, "comfy", "a"), _converted(model, second, "kohya", "b")
    both = forward(_hand_merged(model, (first, 0.5), (second, 1.0)), tiny_inputs, 300.0)
    only_b = forward(_hand_merged(model, (second, 1.0)), tiny_inputs, 300.0)

    lora_patch.sync(model, (LoraPatch(a, 0.5), LoraPatch(b, 1.0)))
    torch.testing.assert_close(forward(model, tiny_inputs, 300.0), both, rtol=0, atol=1e-6)

    lora_patch.sync(model, (LoraPatch(b, 1.0),))  # the chain changed: only the second LoRA now
    torch.testing.assert_close(forward(model, tiny_inputs, 300.0), only_b, rtol=0, atol=1e-6)

    lora_patch.sync(model, ())
    assert all(torch.equal(v, params[k]) for k, v in model.state_dict().items())
    assert torch.equal(forward(model, tiny_inputs, 300.0), base)


def test_the_same_chain_is_not_applied_twice(model):
    weights = _converted(model, lora_demo.draw_lora(model, seed=6), "comfy")
    chain = (LoraPatch(weights, 1.0),)
    lora_patch.sync(model, chain)
    once = model.blocks[0].attn1.to_q.weight.clone()
    lora_patch.sync(model, chain)
    assert torch.equal(model.blocks[0].attn1.to_q.weight, once)
    assert lora_patch.applied_chain(model) == ((weights.fingerprint, 1.0),)


def test_keys_that_do_not_apply_are_reported_by_name(model):
    drawn = lora_demo.draw_lora(model, seed=7)
    sd = lora_demo.to_state_dict(drawn, "comfy")
    sd["diffusion_model.blocks.9.self_attn.q.lora_down.weight"] = torch.zeros(4, 32)  # no block 9 in this model
    sd["diffusion_model.blocks.9.self_attn.q.lora_up.weight"] = torch.zeros(32, 4)
    sd["diffusion_model.blocks.0.self_attn.q.lora_down.weight"] = torch.randn(4, 48)  # wrong input width
    sd["diffusion_model.blocks.1.ffn.0.lora_up.weight"] = sd.pop("diffusion_model.blocks.1.ffn.0.lora_up.weight")
    del sd["diffusion_model.blocks.1.ffn.0.lora_down.weight"]  # half a pair
    sd["diffusion_model.some_other_net.lora_down.weight"] = torch.zeros(4, 4)

    weights = lora.convert_lora(sd, model, name="messy")
    text = "\n".join(weights.skipped)
    assert "diffusion_model.blocks.9.self_attn.q.lora_down.weight (no such module in this model)" in text
    assert "diffusion_model.some_other_net.lora_down.weight (no such module in this model)" in text
    assert "blocks.1.ffn.0 (only one of lora_down/lora_up)" in text
    assert "blocks.0.attn1.to_q (LoRA (32,)x(48,), the model's weight is (32, 32))" in text
    assert len(weights.low_rank) == 24 - 2  # the rest still applies
    assert "messy" in weights.summary() and "keys not applied" in weights.summary()


def test_a_t2v_lora_on_the_i2v_model_says_what_did_not_apply(model, tiny_inputs):
    drawn = lora_demo.draw_lora(model, seed=8, image_keys=False)
    weights = _converted(model, drawn, "kohya")
    assert any("text-to-video" in note and "k_img/v_img" in note for note in weights.notes)
    assert "k_img/v_img" in weights.summary()
    expected = forward(_hand_merged(model, (drawn, 1.0)), tiny_inputs, 200.0)
    image_k = model.blocks[0].attn2.add_k_proj.weight.clone()
    lora_patch.sync(model, (LoraPatch(weights, 1.0),))
    assert torch.equal(model.blocks[0].attn2.add_k_proj.weight, image_k)
    torch.testing.assert_close(forward(model, tiny_inputs, 200.0), expected, rtol=0, atol=1e-6)


def test_a_partial_kohya_lora_loads(model):
    """diffusers' musubi path needs every module of every block; ours takes any subset."""
    drawn = lora_demo.draw_lora(model, seed=9)
    drawn.factors = {k: v for k, v in drawn.factors.items() if k.endswith("attn1.to_q")}
    weights = _converted(model, drawn, "kohya")
    assert sorted(weights.low_rank) == ["blocks.0.attn1.to_q", "blocks.1.attn1.to_q"] and weights.skipped == []


def test_a_lora_for_another_model_is_refused(model):
    sd = {"diffusion_model.blocks.0.self_attn.q.lora_down.weight": torch.zeros(4, 5120),
          "diffusion_model.blocks.0.self_attn.q.lora_up.weight": torch.zeros(5120, 4)}  # fmt: skip
    with pytest.raises(ModelFormatError, match="changes nothing in this model.*5120"):
        lora.convert_lora(sd, model, name="14b.safetensors")


def test_fp8_weights_get_bf16_adapters_and_restore_exactly(tiny_factory, tiny_inputs):
    model = tiny_factory()
    reference = copy.deepcopy(model)
    fp8.apply_fp8(model, "fp8_e4m3fn", torch.float32)
    base = forward(model, tiny_inputs, 400.0)
    drawn = lora_demo.draw_lora(model, seed=10, magnitude=0.2)
    weights = _converted(model, drawn, "comfy")
    try:
        modes = lora_patch.sync(model, (LoraPatch(weights, 1.0),))
        assert modes == {"adapter": 24}
        assert model.blocks[0].attn1.to_q.weight.dtype == torch.float8_e4m3fn  # the stored weights are untouched
        got = forward(model, tiny_inputs, 400.0)
        # fp8 base + exact adapter vs the fp32 model merged by hand: only the base's fp8 rounding differs.
        lora_demo.merge_by_hand(reference, drawn, 1.0)
        expected = forward(reference, tiny_inputs, 400.0)
        assert (got - expected).abs().max() < 0.5 * (expected - base).abs().max()
    finally:
        lora_patch.sync(model, ())
    assert torch.equal(forward(model, tiny_inputs, 400.0), base)


def test_block_offloading_gets_adapters_that_match_the_merge(tiny_factory, tiny_inputs):
    from comfy_nodes.accel import offload

    model = tiny_factory()
    drawn = lora_demo.draw_lora(model, seed=12, magnitude=0.2)
    expected = forward(_hand_merged(model, (drawn, 1.0)), tiny_inputs, 600.0)
    offload.apply_offload(model, "blocks", torch.device("cpu"))
    base = forward(model, tiny_inputs, 600.0)
    weights = _converted(model, drawn, "comfy")
    try:
        assert lora_patch.sync(model, (LoraPatch(weights, 1.0),)) == {"adapter": 24}  # streamed weights stay untouched
        torch.testing.assert_close(forward(model, tiny_inputs, 600.0), expected, rtol=0, atol=1e-5)
    finally:
        lora_patch.sync(model, ())
    assert torch.equal(forward(model, tiny_inputs, 600.0), base)

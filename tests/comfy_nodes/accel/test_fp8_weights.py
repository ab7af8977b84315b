"""FP8 weight storage and fp8 checkpoint reading."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from diffusers import WanTransformer3DModel

from comfy_nodes.accel import fp8
from comfy_nodes.errors import ModelFormatError, ParameterError

# Mid-size: 12 blocks of dim 128, so the parts kept in the compute dtype (embedders,
# norms, head) are a small share, as in the 14B model.
MID_CONFIG = dict(
    patch_size=(1, 2, 2),
    num_attention_heads=4,
    attention_head_dim=32,
    in_channels=36,
    out_channels=16,
    text_dim=64,
    freq_dim=64,
    ffn_dim=512,
    num_layers=12,
    image_dim=64,
    added_kv_proj_dim=128,
)


def _mid_model(dtype: torch.dtype = torch.float32) -> WanTransformer3DModel:
    torch.manual_seed(0)
    model = WanTransformer3DModel(**MID_CONFIG).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.to(dtype)


def _mid_forward(model: torch.nn.Module) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        return model(
            hidden_states=torch.randn(1, 36, 3, 8, 8, generator=gen),
            timestep=torch.tensor([600.0]),
            encoder_hidden_states=torch.randn(1, 512, 64, generator=gen),
            encoder_hidden_states_image=torch.randn(1, 257, 64, generator=gen),
            return_dict=False,
        )[0]


def test_fp8_storage_halves_the_weight_bytes():
    model = _mid_model(torch.bfloat16)
    bf16_bytes = fp8.weight_bytes(model)
    fp8.apply_fp8(model, "fp8_e4m3fn", torch.bfloat16)
    fp8_bytes = fp8.weight_bytes(model)

    assert fp8_bytes <= 0.55 * bf16_bytes  # measured 0.536
    assert model.blocks[0].attn1.to_q.weight.dtype == torch.float8_e4m3fn
    assert model.blocks[5].ffn.net[2].weight.dtype == torch.float8_e4m3fn
    kept = {
        "patch_embedding": model.patch_embedding.weight,
        "time_proj": model.condition_embedder.time_proj.weight,
        "text_embedder": model.condition_embedder.text_embedder.linear_1.weight,
        "image_embedder": model.condition_embedder.image_embedder.ff.net[0].proj.weight,
        "head": model.proj_out.weight,
        "head modulation": model.scale_shift_table,
        "block modulation": model.blocks[0].scale_shift_table,
        "qk norm": model.blocks[0].attn1.norm_q.weight,
    }
    assert {name: t.dtype for name, t in kept.items()} == {name: torch.bfloat16 for name in kept}


@pytest.mark.parametrize(
    ("weight_dtype", "max_rel_error"),
    # Measured relative L2 error against the fp32 model: 0.029 (e4m3fn), 0.057 (e5m2).
    [("fp8_e4m3fn", 0.04), ("fp8_e5m2", 0.08)],
)
def test_fp8_outputs_stay_close_to_full_precision(weight_dtype, max_rel_error):
    reference = _mid_forward(_mid_model())
    model = _mid_model()
    fp8.apply_fp8(model, weight_dtype, torch.float32)
    out = _mid_forward(model)

    rel_error = ((out - reference).norm() / reference.norm()).item()
    assert 0 < rel_error < max_rel_error
    assert model.blocks[0].attn1.to_q.weight.dtype == fp8.storage_dtype(weight_dtype)  # back to storage after use


def test_default_weight_dtype_changes_nothing(tiny_model):
    before = {n: p.dtype for n, p in tiny_model.named_parameters()}
    fp8.apply_fp8(tiny_model, "default", torch.float32)
    assert {n: p.dtype for n, p in tiny_model.named_parameters()} == before
    assert not any(hasattr(m, "_diffusers_hook") for m in tiny_model.modules())
    with pytest.raises(ParameterError):
        fp8.apply_fp8(tiny_model, "int4", torch.float32)


def _weights() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    return {
        "blocks.0.self_attn.q.weight": torch.randn(8, 4, generator=gen),
        "blocks.0.ffn.0.weight": torch.randn(16, 8, generator=gen) * 3,
    }


def _quantise(weight: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    scale = weight.abs().max() / torch.finfo(dtype).max
    return (weight / scale).to(dtype), scale.reshape(())


def test_legacy_scaled_fp8_is_dequantised():
    bias = torch.randn(8)
    sd: dict[str, torch.Tensor] = {"scaled_fp8": torch.empty(2, dtype=torch.float8_e4m3fn), "blocks.0.self_attn.q.bias": bias}
    expected = {}
    for key, w in _weights().items():
        q, scale = _quantise(w, torch.float8_e4m3fn)
        layer = key.removesuffix(".weight")
        sd[key], sd[layer + ".scale_weight"], sd[layer + ".scale_input"] = q, scale, torch.tensor(1.0)
        expected[key] = (q.float() * scale).to(torch.bfloat16)

    out, stored = fp8.prepare_state_dict(sd, torch.bfloat16)

    assert stored == torch.float8_e4m3fn
    assert set(out) == set(expected) | {"blocks.0.self_attn.q.bias"}
    for key, value in expected.items():
        assert out[key].dtype == torch.bfloat16 and torch.equal(out[key], value)
    assert out["blocks.0.self_attn.q.bias"] is bias  # non-fp8 tensors pass through
    # Dequantised weights are close to the originals (fp8 keeps ~2 significant digits).
    for key, w in _weights().items():
        torch.testing.assert_close(out[key].float(), w, rtol=0.07, atol=0.02)


def test_prefixed_legacy_marker_with_fp32_dtype_means_e4m3fn():
    q, scale = _quantise(_weights()["blocks.0.ffn.0.weight"], torch.float8_e4m3fn)
    sd = {
        "model.diffusion_model.scaled_fp8": torch.tensor(0.0),
        "model.diffusion_model.blocks.0.ffn.0.weight": q,
        "model.diffusion_model.blocks.0.ffn.0.scale_weight": scale,
    }
    out, stored = fp8.prepare_state_dict(sd, torch.float32)
    assert stored == torch.float8_e4m3fn
    assert list(out) == ["model.diffusion_model.blocks.0.ffn.0.weight"]
    assert torch.equal(out["model.diffusion_model.blocks.0.ffn.0.weight"], q.float() * scale)


def _comfy_quant(fmt: str) -> torch.Tensor:
    return torch.tensor(list(json.dumps({"format": fmt}).encode()), dtype=torch.uint8)


def test_weight_scale_layout_with_quant_info_is_dequantised():
    sd: dict[str, torch.Tensor] = {}
    expected = {}
    for key, w in _weights().items():
        q, scale = _quantise(w, torch.float8_e5m2)
        layer = key.removesuffix(".weight")
        sd[key], sd[layer + ".weight_scale"] = q, scale
        sd[layer + ".input_scale"], sd[layer + ".comfy_quant"] = torch.tensor(0.5), _comfy_quant("float8_e5m2")
        expected[key] = q.float() * scale

    out, stored = fp8.prepare_state_dict(sd, torch.float32)

    assert stored == torch.float8_e5m2
    assert set(out) == set(expected)
    for key, value in expected.items():
        assert torch.equal(out[key], value)


def test_per_channel_weight_scale():
    w = _weights()["blocks.0.ffn.0.weight"]
    scale = w.abs().amax(dim=1) / torch.finfo(torch.float8_e4m3fn).max
    q = (w / scale[:, None]).to(torch.float8_e4m3fn)
    out, _ = fp8.prepare_state_dict({"blocks.0.ffn.0.weight": q, "blocks.0.ffn.0.weight_scale": scale}, torch.float32)
    assert torch.equal(out["blocks.0.ffn.0.weight"], q.float() * scale[:, None])


def test_plain_fp8_is_upcast_exactly():
    q = _weights()["blocks.0.ffn.0.weight"].to(torch.float8_e4m3fn)
    norm = torch.randn(8, dtype=torch.bfloat16)
    out, stored = fp8.prepare_state_dict({"blocks.0.ffn.0.weight": q, "blocks.0.norm3.weight": norm}, torch.bfloat16)
    assert stored == torch.float8_e4m3fn
    assert out["blocks.0.ffn.0.weight"].dtype == torch.bfloat16
    assert torch.equal(out["blocks.0.ffn.0.weight"].float(), q.float())
    assert out["blocks.0.norm3.weight"] is norm


def test_full_precision_checkpoint_passes_through():
    sd = _weights()
    out, stored = fp8.prepare_state_dict(sd, torch.bfloat16)
    assert stored is None
    assert all(out[k] is sd[k] for k in sd)


def test_unsupported_or_broken_quantisation_is_reported():
    q = torch.zeros(4, 4, dtype=torch.float8_e4m3fn)
    with pytest.raises(ModelFormatError, match="nvfp4"):
        fp8.prepare_state_dict({"a.weight": q, "a.comfy_quant": _comfy_quant("nvfp4")}, torch.float32)
    with pytest.raises(ModelFormatError, match="without a weight"):
        fp8.prepare_state_dict({"a.scale_weight": torch.tensor(1.0)}, torch.float32)

"""The model loader's FP8 and offload options, and FP8 ComfyUI checkpoints."""

from __future__ import annotations

import torch
from safetensors.torch import load_file, save_file

from comfy_nodes.accel import fp8
from comfy_nodes.models import loaders
from comfy_nodes.pipeline import text
from comfy_nodes.models.demo import IMAGE_DIM, TEXT_DIM

INPUTS = dict(
    hidden_states=torch.randn(1, 36, 2, 4, 4, generator=torch.Generator().manual_seed(0)),
    timestep=torch.tensor([600.0]),
    encoder_hidden_states=torch.randn(1, 512, TEXT_DIM, generator=torch.Generator().manual_seed(1)),
    encoder_hidden_states_image=torch.randn(1, 257, IMAGE_DIM, generator=torch.Generator().manual_seed(2)),
    return_dict=False,
)


def _out(model) -> torch.Tensor:
    return model.transformer(**INPUTS)[0]


def _block_weights(sd: dict[str, torch.Tensor]) -> list[str]:
    return [k for k, v in sd.items() if k.startswith("blocks.") and k.endswith(".weight") and v.ndim == 2]


def test_fp8_option_shrinks_weights_and_stays_close(demo_paths):
    full = loaders.load_transformer(demo_paths["diffusion_models"])
    small = loaders.load_transformer(demo_paths["diffusion_models"], weight_dtype="fp8_e4m3fn")
    assert small.options["weight_dtype"] == "fp8_e4m3fn"
    assert fp8.weight_bytes(small.transformer) < fp8.weight_bytes(full.transformer)
    assert small.transformer.blocks[0].attn1.to_q.weight.dtype == torch.float8_e4m3fn
    reference = _out(full)
    assert torch.allclose(_out(small), reference, atol=0.1 * reference.abs().max().item())


def test_plain_fp8_checkpoint_loads_and_stays_fp8(demo_paths, tmp_path):
    sd = load_file(str(demo_paths["diffusion_models"]))
    for key in _block_weights(sd):
        sd[key] = sd[key].to(torch.float8_e4m3fn)
    path = tmp_path / "wan2.1_i2v_480p_demo_fp8_e4m3fn.safetensors"
    save_file(sd, str(path))
    model = loaders.load_transformer(path)
    assert model.options["weight_dtype"] == "fp8_e4m3fn"
    assert model.transformer.blocks[0].ffn.net[0].proj.weight.dtype == torch.float8_e4m3fn
    assert torch.isfinite(_out(model)).all()


def test_scaled_fp8_checkpoint_stays_fp8_and_computes_with_its_scales(demo_paths, tmp_path):
    sd = load_file(str(demo_paths["diffusion_models"]))
    scaled, exact = dict(sd), dict(sd)
    for key in _block_weights(sd):
        scale = sd[key].float().abs().amax(dim=1) / 448.0  # one scale per output channel
        quantised = (sd[key].float() / scale[:, None]).to(torch.float8_e4m3fn)
        scaled[key] = quantised
        scaled[key[: -len(".weight")] + ".scale_weight"] = scale
        exact[key] = quantised.float() * scale[:, None]  # what the file means, computed independently
    scaled["scaled_fp8"] = torch.zeros(2, dtype=torch.float8_e4m3fn)
    path = tmp_path / "wan2.1_i2v_480p_demo_fp8_scaled.safetensors"
    exact_path = tmp_path / "wan2.1_i2v_480p_demo_dequantised.safetensors"
    save_file(scaled, str(path))
    save_file(exact, str(exact_path))

    model = loaders.load_transformer(path, "fp32")
    reference = loaders.load_transformer(exact_path, "fp32")
    assert model.options["weight_dtype"] == "fp8_scaled"
    q = model.transformer.blocks[0].attn1.to_q
    assert isinstance(q, fp8.ScaledFP8Linear) and q.weight.dtype == torch.float8_e4m3fn  # not upcast
    kept = [m for m in model.transformer.modules() if isinstance(m, fp8.ScaledFP8Linear)]
    assert len(kept) == len(_block_weights(sd)) and all(m.weight.dtype == torch.float8_e4m3fn for m in kept)
    assert fp8.weight_bytes(model.transformer) < fp8.weight_bytes(reference.transformer)
    # Exactly the dequantised model's numbers (both fp32; the fp8 values and scales are the file's own).
    torch.testing.assert_close(_out(model), _out(reference), rtol=1e-6, atol=1e-6)
    # A requested fp8 weight_dtype does not requantise a scaled file without its scales.
    again = loaders.load_transformer(path, "fp32", weight_dtype="fp8_e4m3fn")
    assert again.options["weight_dtype"] == "fp8_scaled"
    torch.testing.assert_close(_out(again), _out(reference), rtol=1e-6, atol=1e-6)


def test_model_offload_gives_the_same_output(demo_paths):
    plain = loaders.load_transformer(demo_paths["diffusion_models"])
    offloaded = loaders.load_transformer(demo_paths["diffusion_models"], offload="model")
    assert torch.equal(_out(plain), _out(offloaded))


def test_scaled_fp8_umt5_loads_with_its_scales(demo_paths, tmp_path):
    """ComfyUI's umt5_xxl_fp8_e4m3fn_scaled layout: fp8 Linear weights, `<layer>.scale_weight`, a marker."""
    sd = load_file(str(demo_paths["text_encoders"]))
    scaled, exact = dict(sd), dict(sd)
    linears = [k for k, v in sd.items() if k.endswith(".weight") and v.ndim == 2 and ".block." in k]
    assert linears
    for key in linears:
        scale = sd[key].float().abs().max() / 448.0
        quantised = (sd[key].float() / scale).to(torch.float8_e4m3fn)
        scaled[key] = quantised
        scaled[key[: -len(".weight")] + ".scale_weight"] = scale.reshape(1)
        exact[key] = quantised.float() * scale  # what the file means, computed independently
    scaled["scaled_fp8"] = torch.empty(0, dtype=torch.float8_e4m3fn)
    scaled_path, exact_path = tmp_path / "umt5_demo_fp8_e4m3fn_scaled.safetensors", tmp_path / "umt5_exact.safetensors"
    save_file(scaled, str(scaled_path))
    save_file(exact, str(exact_path))

    loaded = loaders.load_text_encoder(scaled_path, "fp32")
    reference = loaders.load_text_encoder(exact_path, "fp32")
    for key in linears[:3]:
        name = key[: -len(".weight")]
        torch.testing.assert_close(
            loaded.encoder.get_submodule(name).weight, reference.encoder.get_submodule(name).weight, rtol=0, atol=0
        )
    torch.testing.assert_close(text.encode_text(loaded, "a cat"), text.encode_text(reference, "a cat"), rtol=0, atol=0)


def test_plain_fp8_file_is_kept_as_read_and_matches_the_upcast_route(demo_paths, tmp_path):
    """fp8 tensors that end up stored in fp8 are assigned as read (no upcast copy), with the same result."""
    sd = load_file(str(demo_paths["diffusion_models"]))
    fp8_sd, upcast_sd = dict(sd), dict(sd)
    for key in _block_weights(sd):
        fp8_sd[key] = sd[key].to(torch.float8_e4m3fn)
        upcast_sd[key] = fp8_sd[key].to(torch.float32)  # the same values, not in fp8
    fp8_path, upcast_path = tmp_path / "demo_fp8_e4m3fn.safetensors", tmp_path / "demo_upcast.safetensors"
    save_file(fp8_sd, str(fp8_path))
    save_file(upcast_sd, str(upcast_path))
    kept = loaders.load_transformer(fp8_path, "fp32")
    upcast = loaders.load_transformer(upcast_path, "fp32", weight_dtype="fp8_e4m3fn")
    q = kept.transformer.blocks[0].attn1.to_q.weight
    assert q.dtype == torch.float8_e4m3fn
    assert torch.equal(q.view(torch.uint8), fp8_sd["blocks.0.self_attn.q.weight"].view(torch.uint8))
    upcast_params = dict(upcast.transformer.named_parameters())
    for name, param in kept.transformer.named_parameters():  # every stored value identical
        assert param.dtype == upcast_params[name].dtype and torch.equal(param.float(), upcast_params[name].float())
    torch.testing.assert_close(_out(kept), _out(upcast), rtol=1e-6, atol=1e-6)  # kernels may order sums differently

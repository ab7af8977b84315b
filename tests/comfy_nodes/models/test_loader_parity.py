"""The same weights load to the same modules and give the same output in both layouts."""

from __future__ import annotations

import torch
from safetensors.torch import load_file, save_file

from comfy_nodes.models import convert, loaders
from comfy_nodes.models.demo import IMAGE_DIM, TEXT_DIM


def _tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return module.state_dict()


def _assert_same(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = _tensors(a), _tensors(b)
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_each_component_identical_in_both_layouts(demo_paths):
    folder = demo_paths["diffusers"]
    _assert_same(loaders.load_transformer(demo_paths["diffusion_models"]).transformer, loaders.load_transformer(folder).transformer)
    _assert_same(loaders.load_vae(demo_paths["vae"]).vae, loaders.load_vae(folder).vae)
    _assert_same(loaders.load_clip_vision(demo_paths["clip_vision"]).model, loaders.load_clip_vision(folder).model)
    single, multi = loaders.load_text_encoder(demo_paths["text_encoders"]), loaders.load_text_encoder(folder)
    _assert_same(single.encoder, multi.encoder)
    assert single.tokenizer.model_proto == multi.tokenizer.model_proto


def test_transformer_output_the_same_in_both_layouts(demo_paths):
    a = loaders.load_transformer(demo_paths["diffusion_models"]).transformer
    b = loaders.load_transformer(demo_paths["diffusers"]).transformer
    torch.manual_seed(0)
    inputs = dict(
        hidden_states=torch.randn(1, 36, 2, 4, 4),
        timestep=torch.tensor([500.0]),
        encoder_hidden_states=torch.randn(1, 512, TEXT_DIM),
        encoder_hidden_states_image=torch.randn(1, 257, IMAGE_DIM),
        return_dict=False,
    )
    with torch.no_grad():
        out_a, out_b = a(**inputs)[0], b(**inputs)[0]
    # The weights are equal bit for bit (above); the same sums over differently placed memory may
    # still take other vector paths on some CPUs (AMD EPYC: 6e-7 apart). A wrong mapping differs by ~1.
    torch.testing.assert_close(out_a, out_b, rtol=0, atol=1e-5)


def test_comfy_prefix_is_accepted(demo_paths, tmp_path):
    sd = load_file(str(demo_paths["diffusion_models"]))
    prefixed = tmp_path / "prefixed.safetensors"
    save_file({f"model.diffusion_model.{k}": v for k, v in sd.items()}, str(prefixed))
    _assert_same(loaders.load_transformer(prefixed).transformer, loaders.load_transformer(demo_paths["diffusion_models"]).transformer)


def test_key_conversion_round_trips(demo_paths):
    transformer = loaders.load_transformer(demo_paths["diffusers"]).transformer
    sd = transformer.state_dict()
    assert convert.transformer_to_diffusers(convert.transformer_from_diffusers(sd)).keys() == sd.keys()
    vae = loaders.load_vae(demo_paths["diffusers"]).vae.state_dict()
    assert convert.vae_to_diffusers(convert.vae_from_diffusers(vae)).keys() == vae.keys()


def test_bf16_keeps_precision_sensitive_parts_in_fp32(demo_paths):
    model = loaders.load_transformer(demo_paths["diffusion_models"], "bf16")
    dtypes = {name: p.dtype for name, p in model.transformer.named_parameters()}
    assert dtypes["blocks.0.attn1.to_q.weight"] == torch.bfloat16
    assert dtypes["scale_shift_table"] == torch.float32
    assert dtypes["condition_embedder.time_embedder.linear_1.weight"] == torch.float32

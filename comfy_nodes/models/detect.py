"""Read a model's architecture from its weights, as ComfyUI does.

Every function takes a state dict in the single-file layout (WAN's original
names for the transformer and VAE, Hugging Face names for umT5 and CLIP) and
returns the keyword arguments of the matching diffusers/transformers config.
"""

from __future__ import annotations

import re

import torch

from ..errors import ModelFormatError, WrongModelTypeError

StateDict = dict[str, torch.Tensor]

WAN_HEAD_DIM = 128  # every WAN 2.1 size uses 128-dim heads


def _count_indexed(sd: StateDict, pattern: str) -> int:
    found = {int(m.group(1)) for k in sd if (m := re.match(pattern, k))}
    return max(found) + 1 if found else 0


def transformer_config(sd: StateDict, source: str) -> dict:
    """Config for diffusers' WanTransformer3DModel from original-layout keys (prefix stripped)."""
    if "head.modulation" not in sd or "patch_embedding.weight" not in sd:
        raise ModelFormatError(
            f"{source} is not a WAN 2.1 diffusion model (no head.modulation / patch_embedding weights). "
            "Choose a file such as wan2.1_i2v_480p_14B_bf16.safetensors."
        )
    in_dim = sd["patch_embedding.weight"].shape[1]
    if "img_emb.proj.0.bias" not in sd:
        raise WrongModelTypeError(
            f"{source} is a WAN text-to-video (T2V) model (in_dim {in_dim}, no image embedding). "
            "The I2V nodes need an image-to-video checkpoint, e.g. wan2.1_i2v_480p_14B_bf16.safetensors."
        )
    if "img_emb.emb_pos" in sd:
        raise WrongModelTypeError(f"{source} is a WAN first-last-frame (FLF2V) model; these nodes run I2V models.")
    if in_dim != 36:
        raise WrongModelTypeError(
            f"{source} takes {in_dim} input channels; WAN 2.1 I2V takes 36 (16 noise + 4 mask + 16 image latent)."
        )
    dim = sd["head.modulation"].shape[-1]
    return {
        "patch_size": tuple(sd["patch_embedding.weight"].shape[2:]),
        "num_attention_heads": dim // WAN_HEAD_DIM,
        "attention_head_dim": WAN_HEAD_DIM,
        "in_channels": in_dim,
        "out_channels": sd["head.head.weight"].shape[0] // 4,
        "text_dim": sd["text_embedding.0.weight"].shape[1],
        "freq_dim": sd["time_embedding.0.weight"].shape[1],
        "ffn_dim": sd["blocks.0.ffn.0.weight"].shape[0],
        "num_layers": _count_indexed(sd, r"blocks\.(\d+)\."),
        "cross_attn_norm": "blocks.0.norm3.weight" in sd,
        "qk_norm": "rms_norm_across_heads",
        "eps": 1e-6,
        "image_dim": sd["img_emb.proj.0.weight"].shape[0],
        "added_kv_proj_dim": dim,
        "rope_max_seq_len": 1024,
    }


def vae_config(sd: StateDict, source: str) -> dict:
    """Config for diffusers' AutoencoderKLWan from original-layout keys."""
    if "decoder.middle.0.residual.0.gamma" not in sd or "conv1.weight" not in sd:
        raise ModelFormatError(f"{source} is not a WAN 2.1 VAE (no decoder.middle / conv1 weights); choose wan_2.1_vae.safetensors.")
    if "decoder.upsamples.0.upsamples.0.residual.2.weight" in sd:
        raise WrongModelTypeError(f"{source} is a WAN 2.2 VAE; WAN 2.1 I2V needs wan_2.1_vae.safetensors.")
    return {
        "base_dim": sd["encoder.conv1.weight"].shape[0],
        "z_dim": sd["conv1.weight"].shape[0] // 2,
        "dim_mult": [1, 2, 4, 4],
        "num_res_blocks": 2,
        "attn_scales": [],
        "temperal_downsample": [False, True, True],
    }


def umt5_config(sd: StateDict, source: str) -> dict:
    """Config for transformers' UMT5Config from Hugging Face-layout encoder keys."""
    bias_key = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"
    if "shared.weight" not in sd or bias_key not in sd:
        raise ModelFormatError(
            f"{source} is not a umT5 text encoder in the ComfyUI layout (no shared / per-layer relative_attention_bias "
            "weights). Use umt5_xxl_fp16.safetensors (or its fp8 variant)."
        )
    vocab, d_model = sd["shared.weight"].shape
    buckets, heads = sd[bias_key].shape
    return {
        "vocab_size": vocab,
        "d_model": d_model,
        "d_kv": sd["encoder.block.0.layer.0.SelfAttention.q.weight"].shape[0] // heads,
        "d_ff": sd["encoder.block.0.layer.1.DenseReluDense.wi_0.weight"].shape[0],
        "num_layers": _count_indexed(sd, r"encoder\.block\.(\d+)\."),
        "num_heads": heads,
        "relative_attention_num_buckets": buckets,
        "relative_attention_max_distance": 128,
        "feed_forward_proj": "gated-gelu",
        "dropout_rate": 0.0,
    }


# Known CLIP vision widths and their head counts (ViT-L, ViT-H, ViT-bigG).
_CLIP_HEADS = {1024: 16, 1280: 16, 1664: 16}


def clip_vision_config(sd: StateDict, source: str) -> dict:
    """Config for transformers' CLIPVisionConfig from Hugging Face-layout keys."""
    prefix = "vision_model."
    if f"{prefix}embeddings.patch_embedding.weight" not in sd:
        raise ModelFormatError(
            f"{source} is not a CLIP vision model in the Hugging Face layout (no vision_model.embeddings weights); "
            "use clip_vision_h.safetensors."
        )
    patch = sd[f"{prefix}embeddings.patch_embedding.weight"]
    hidden = patch.shape[0]
    positions = sd[f"{prefix}embeddings.position_embedding.weight"].shape[0]
    grid = int(round((positions - 1) ** 0.5))
    return {
        "hidden_size": hidden,
        "intermediate_size": sd[f"{prefix}encoder.layers.0.mlp.fc1.weight"].shape[0],
        "num_hidden_layers": _count_indexed(sd, r"vision_model\.encoder\.layers\.(\d+)\."),
        "num_attention_heads": _CLIP_HEADS.get(hidden, max(1, hidden // 64)),
        "num_channels": patch.shape[1],
        "patch_size": patch.shape[-1],
        "image_size": grid * patch.shape[-1],
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-5,
        "projection_dim": sd["visual_projection.weight"].shape[0] if "visual_projection.weight" in sd else 1024,
    }

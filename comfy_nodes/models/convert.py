"""Key layouts: WAN's original/ComfyUI names <-> diffusers names.

Loading uses diffusers' own converters (original -> diffusers). The reverse
direction exists so the demo model can be written in the ComfyUI layout from
the same random weights as its diffusers folder; tests check the round trip.
"""

from __future__ import annotations

import re

import torch

from ..diffusers_api import private

convert_wan_transformer_to_diffusers, convert_wan_vae_to_diffusers = private(
    "diffusers.loaders.single_file_utils", "convert_wan_transformer_to_diffusers", "convert_wan_vae_to_diffusers"
)

StateDict = dict[str, torch.Tensor]

# ComfyUI strips the first of these that matches many keys (unet_prefix_from_state_dict).
DIFFUSION_PREFIXES = ("model.diffusion_model.", "model.model.", "net.", "model.")


def strip_diffusion_prefix(sd: StateDict) -> StateDict:
    for prefix in DIFFUSION_PREFIXES:
        if sum(k.startswith(prefix) for k in sd) > 5:
            return {k[len(prefix) :] if k.startswith(prefix) else k: v for k, v in sd.items()}
    return sd


def transformer_to_diffusers(sd: StateDict) -> StateDict:
    return convert_wan_transformer_to_diffusers(dict(strip_diffusion_prefix(sd)))


def vae_to_diffusers(sd: StateDict) -> StateDict:
    return convert_wan_vae_to_diffusers(dict(sd))


# ------------------------------------------------------------- diffusers -> original

_TRANSFORMER_TOP = {
    "condition_embedder.time_embedder.linear_1.": "time_embedding.0.",
    "condition_embedder.time_embedder.linear_2.": "time_embedding.2.",
    "condition_embedder.text_embedder.linear_1.": "text_embedding.0.",
    "condition_embedder.text_embedder.linear_2.": "text_embedding.2.",
    "condition_embedder.time_proj.": "time_projection.1.",
    "condition_embedder.image_embedder.norm1.": "img_emb.proj.0.",
    "condition_embedder.image_embedder.ff.net.0.proj.": "img_emb.proj.1.",
    "condition_embedder.image_embedder.ff.net.2.": "img_emb.proj.3.",
    "condition_embedder.image_embedder.norm2.": "img_emb.proj.4.",
    "proj_out.": "head.head.",
}
_BLOCK_PARTS = {
    "attn1.": "self_attn.",
    "attn2.": "cross_attn.",
    "to_q.": "q.",
    "to_k.": "k.",
    "to_v.": "v.",
    "to_out.0.": "o.",
    "add_k_proj.": "k_img.",
    "add_v_proj.": "v_img.",
    "norm_added_k.": "norm_k_img.",
    "ffn.net.0.proj.": "ffn.0.",
    "ffn.net.2.": "ffn.2.",
    "norm2.": "norm3.",  # the affine cross-attention norm is norm3 in the original
}


def transformer_from_diffusers(sd: StateDict) -> StateDict:
    out: StateDict = {}
    for key, value in sd.items():
        if key == "scale_shift_table":
            new = "head.modulation"
        elif key.startswith("blocks."):
            _, index, rest = key.split(".", 2)
            if rest == "scale_shift_table":
                rest = "modulation"
            for old, repl in _BLOCK_PARTS.items():
                rest = rest.replace(old, repl)
            new = f"blocks.{index}.{rest}"
        else:
            new = key
            for old, repl in _TRANSFORMER_TOP.items():
                if key.startswith(old):
                    new = repl + key[len(old) :]
                    break
        out[new] = value
    return out


_RESNET_PARTS = {
    "norm1.gamma": "residual.0.gamma",
    "conv1.weight": "residual.2.weight",
    "conv1.bias": "residual.2.bias",
    "norm2.gamma": "residual.3.gamma",
    "conv2.weight": "residual.6.weight",
    "conv2.bias": "residual.6.bias",
    "conv_shortcut.weight": "shortcut.weight",
    "conv_shortcut.bias": "shortcut.bias",
}
_VAE_FIXED = {
    "quant_conv.": "conv1.",
    "post_quant_conv.": "conv2.",
    "encoder.conv_in.": "encoder.conv1.",
    "decoder.conv_in.": "decoder.conv1.",
    "encoder.norm_out.gamma": "encoder.head.0.gamma",
    "encoder.conv_out.": "encoder.head.2.",
    "decoder.norm_out.gamma": "decoder.head.0.gamma",
    "decoder.conv_out.": "decoder.head.2.",
}


def vae_from_diffusers(sd: StateDict) -> StateDict:
    """Inverse of diffusers' WAN 2.1 VAE converter (dim_mult [1,2,4,4] layout)."""
    out: StateDict = {}
    for key, value in sd.items():
        out[_vae_key_from_diffusers(key)] = value
    return out


def _vae_key_from_diffusers(key: str) -> str:
    for old, repl in _VAE_FIXED.items():
        if key.startswith(old):
            return repl + key[len(old) :]
    m = re.match(r"(encoder|decoder)\.mid_block\.(resnets|attentions)\.(\d+)\.(.+)", key)
    if m:
        side, kind, idx, rest = m.groups()
        if kind == "attentions":
            return f"{side}.middle.1.{rest}"
        return f"{side}.middle.{2 * int(idx)}.{_RESNET_PARTS[rest]}"
    m = re.match(r"encoder\.down_blocks\.(\d+)\.(.+)", key)
    if m:
        idx, rest = m.groups()
        return f"encoder.downsamples.{idx}.{_RESNET_PARTS.get(rest, rest)}"
    m = re.match(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key)
    if m:
        block, resnet, rest = int(m.group(1)), int(m.group(2)), m.group(3)
        return f"decoder.upsamples.{4 * block + resnet}.{_RESNET_PARTS[rest]}"
    m = re.match(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.(.+)", key)
    if m:
        return f"decoder.upsamples.{4 * int(m.group(1)) + 3}.{m.group(2)}"
    return key

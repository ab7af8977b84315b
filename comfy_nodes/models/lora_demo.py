"""Tiny random LoRAs for a given WAN transformer, written in each format found in the wild.

For tests and benchmarks: `make_lora` draws one set of low-rank factors per Linear of
the transformer blocks and writes it as ComfyUI, kohya or diffusers keys, so the same
change can be read back through every conversion path. `merge_by_hand` applies that
change directly (W + strength * alpha / rank * B @ A), independently of the loader.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..errors import ParameterError
from . import convert

FORMATS = ("comfy", "comfy_ab", "kohya", "diffusers", "lightx2v")
BLOCK_LINEARS = (
    "attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out.0",
    "attn2.to_q", "attn2.to_k", "attn2.to_v", "attn2.to_out.0",
    "attn2.add_k_proj", "attn2.add_v_proj", "ffn.net.0.proj", "ffn.net.2",
)  # fmt: skip
IMAGE_LINEARS = ("attn2.add_k_proj", "attn2.add_v_proj")


@dataclass
class DemoLora:
    """The change itself, by diffusers names: factors, alpha, and full deltas."""

    rank: int
    alpha: float
    factors: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)  # module -> (A, B)
    bias_deltas: dict[str, torch.Tensor] = field(default_factory=dict)  # module -> delta of its bias
    full: dict[str, torch.Tensor] = field(default_factory=dict)  # parameter -> full delta (lightx2v format only)

    @property
    def scale(self) -> float:
        return self.alpha / self.rank


def draw_lora(
    transformer: torch.nn.Module, *, rank: int = 4, alpha: float = 2.0, seed: int = 0, image_keys: bool = True,
    magnitude: float = 0.05, biases: bool = False, full_deltas: bool = False,
) -> DemoLora:  # fmt: skip
    """Random factors for every block Linear (without the image projections when `image_keys` is False);
    `biases` adds bias deltas, `full_deltas` a norm and a modulation delta plus a zero norm delta (lightx2v only)."""
    generator = torch.Generator().manual_seed(seed)
    lora = DemoLora(rank=rank, alpha=alpha)
    for index in range(len(transformer.blocks)):
        for part in BLOCK_LINEARS:
            if not image_keys and part in IMAGE_LINEARS:
                continue
            name = f"blocks.{index}.{part}"
            out_f, in_f = transformer.get_submodule(name).weight.shape
            a = torch.randn(rank, in_f, generator=generator) * magnitude
            b = torch.randn(out_f, rank, generator=generator) * magnitude
            lora.factors[name] = (a, b)
            if biases:
                lora.bias_deltas[name] = torch.randn(out_f, generator=generator) * magnitude
    if full_deltas:
        norm = "blocks.0.norm2.weight"  # the affine cross-attention norm (norm3 in original names)
        lora.full[norm] = torch.randn(transformer.get_parameter(norm).shape, generator=generator) * magnitude
        table = "blocks.0.scale_shift_table"
        lora.full[table] = torch.randn(transformer.get_parameter(table).shape, generator=generator) * magnitude
        zero = "blocks.1.attn2.norm_added_k.weight"  # lightx2v files carry all-zero norm diffs
        lora.full[zero] = torch.zeros(transformer.get_parameter(zero).shape)
    return lora


def _original(name: str) -> str:
    """The original (ComfyUI) module name of a diffusers module name."""
    (key,) = convert.transformer_from_diffusers({name + ".weight": torch.empty(0)})
    return key[: -len(".weight")]


def to_state_dict(lora: DemoLora, fmt: str) -> dict[str, torch.Tensor]:
    """The LoRA's keys in one of FORMATS (lightx2v: ComfyUI keys plus .diff/.diff_b/diff_m and a zero norm diff)."""
    if fmt not in FORMATS:
        raise ParameterError(f"format must be one of {FORMATS}")
    sd: dict[str, torch.Tensor] = {}
    for name, (a, b) in lora.factors.items():
        if fmt == "diffusers":  # PEFT keys carry no alpha: fold it into B
            sd[f"transformer.{name}.lora_A.weight"] = a.clone()
            sd[f"transformer.{name}.lora_B.weight"] = b * lora.scale
            continue
        orig = _original(name)
        if fmt == "kohya":
            base = "lora_unet_" + orig.replace(".", "_")
            sd[f"{base}.lora_down.weight"], sd[f"{base}.lora_up.weight"] = a.clone(), b.clone()
            sd[f"{base}.alpha"] = torch.tensor(float(lora.alpha))
            continue
        down, up = ("lora_A", "lora_B") if fmt == "comfy_ab" else ("lora_down", "lora_up")
        sd[f"diffusion_model.{orig}.{down}.weight"] = a.clone()
        sd[f"diffusion_model.{orig}.{up}.weight"] = b.clone()
        sd[f"diffusion_model.{orig}.alpha"] = torch.tensor(float(lora.alpha))
    for name, delta in lora.bias_deltas.items():
        key = f"transformer.{name}.lora_B.bias" if fmt == "diffusers" else f"diffusion_model.{_original(name)}.diff_b"
        sd[key] = delta.clone()
    if fmt == "lightx2v":
        for name, delta in lora.full.items():
            orig = convert.transformer_from_diffusers({name: delta})
            ((orig_key, value),) = orig.items()
            if orig_key.endswith(".modulation"):
                sd["diffusion_model." + orig_key[: -len(".modulation")] + ".diff_m"] = value.clone()
            else:
                sd["diffusion_model." + orig_key[: -len(".weight")] + ".diff"] = value.clone()
    return sd


@torch.no_grad()
def merge_by_hand(transformer: torch.nn.Module, lora: DemoLora, strength: float = 1.0) -> None:
    """W <- W + strength * alpha/rank * B @ A (fp32), biases and full deltas added; in place."""
    for name, (a, b) in lora.factors.items():
        weight = transformer.get_submodule(name).weight
        weight.copy_((weight.float() + strength * lora.scale * (b @ a)).to(weight.dtype))
    for name, delta in lora.bias_deltas.items():
        bias = transformer.get_submodule(name).bias
        bias.copy_((bias.float() + strength * delta).to(bias.dtype))
    for name, delta in lora.full.items():
        param = transformer.get_parameter(name)
        if param.shape == delta.shape:
            param.copy_((param.float() + strength * delta).to(param.dtype))

"""LoRA over FP8 weights: which way is closer to the exact result, and what it costs per pass.

A mid-size random WAN I2V transformer (dim 512, 8 blocks, ~1k video tokens) gets a
rank-32 LoRA on every block Linear. The reference is the fp32 model with the LoRA
merged in fp32. Compared, all with fp8 e4m3 weights and bf16 compute:

- base fp8 (no LoRA): the error fp8 storage alone brings (for scale);
- adapter: the fp8 weights as stored plus the LoRA as a bf16 adapter (what the pack does);
- requant, fresh scale: W' = W_fp8 + strength * B @ A in fp32, requantised to fp8 with
  a new per-tensor scale (amax / 448), computed as w_fp8 * scale;
- requant, plain cast: W' cast straight back to fp8 (no scale), as a plain fp8 merge does.

    .venv/bin/python bench/bench_lora_fp8.py [--rank 32] [--strength 1.0] [--threads N]
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
from diffusers import WanTransformer3DModel

from comfy_nodes.accel import fp8, lora_patch
from comfy_nodes.models import lora, lora_demo

MODEL_CONFIG = dict(
    patch_size=(1, 2, 2), num_attention_heads=8, attention_head_dim=64, in_channels=36, out_channels=16,
    text_dim=4096, freq_dim=256, ffn_dim=1536, num_layers=8, image_dim=1280, added_kv_proj_dim=512,
)  # fmt: skip
E4M3_MAX = 448.0


def _inputs(dtype: torch.dtype) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return {
        "hidden_states": torch.randn(1, 36, 4, 24, 40, generator=gen).to(dtype),
        "timestep": torch.tensor([600.0]),
        "encoder_hidden_states": torch.randn(1, 512, 4096, generator=gen).to(dtype),
        "encoder_hidden_states_image": torch.randn(1, 257, 1280, generator=gen).to(dtype),
    }


@torch.no_grad()
def _run(model: torch.nn.Module, dtype: torch.dtype, repeats: int = 2) -> tuple[torch.Tensor, float]:
    inputs = _inputs(dtype)
    model(**inputs, return_dict=False)  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        out = model(**inputs, return_dict=False)[0]
    return out.float(), (time.perf_counter() - started) / repeats


@torch.no_grad()
def _fp8_model(full: torch.nn.Module) -> torch.nn.Module:
    """A bf16-compute copy with fp8 weights (layerwise casting hooks are not deep-copyable: build fresh)."""
    model = copy.deepcopy(full).to(torch.bfloat16)
    fp8.apply_fp8(model, "fp8_e4m3fn", torch.bfloat16)
    return model


@torch.no_grad()
def _requantised(full: torch.nn.Module, drawn: lora_demo.DemoLora, strength: float, fresh_scale: bool) -> torch.nn.Module:
    """fp8 model whose LoRA Linears hold fp8(W_fp8 + delta), with a fresh per-tensor scale or none."""
    model = _fp8_model(full)
    for name, (a, b) in drawn.factors.items():
        linear = model.get_submodule(name)
        merged = linear.weight.to(torch.float32) + strength * drawn.scale * (b @ a)
        if fresh_scale:
            scale = merged.abs().amax().clamp(min=1e-12) / E4M3_MAX
            plain = torch.nn.Linear(linear.in_features, linear.out_features, device="meta")
            plain.weight = torch.nn.Parameter((merged / scale).to(torch.float8_e4m3fn), requires_grad=False)
            plain.bias = torch.nn.Parameter(linear.bias.data.to(torch.bfloat16), requires_grad=False)
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent), child, fp8.ScaledFP8Linear(plain, scale.reshape(1), torch.bfloat16))
        else:
            linear.weight.data.copy_(merged.to(torch.float8_e4m3fn))
    return model


def _error(out: torch.Tensor, ref: torch.Tensor) -> tuple[float, float]:
    return (out - ref).abs().max().item(), ((out - ref).norm() / ref.norm()).item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rank", type=int, default=32)
    parser.add_argument("--strength", type=float, default=1.0)
    parser.add_argument("--magnitude", type=float, default=0.02, help="std of the random LoRA factors")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    full = WanTransformer3DModel(**MODEL_CONFIG).eval()
    drawn = lora_demo.draw_lora(full, rank=args.rank, alpha=float(args.rank), seed=3, magnitude=args.magnitude)
    reference = copy.deepcopy(full)
    lora_demo.merge_by_hand(reference, drawn, args.strength)
    ref, _ = _run(reference, torch.float32, repeats=1)
    del reference

    base = _fp8_model(full)
    rows = []
    out, seconds = _run(base, torch.bfloat16)
    rows.append(("base fp8, no LoRA", *_error(out, ref), seconds))

    weights = lora.convert_lora(lora_demo.to_state_dict(drawn, "comfy"), base, name="bench")
    lora_patch.sync(base, (lora_patch.LoraPatch(weights, args.strength),))
    out, seconds = _run(base, torch.bfloat16)
    rows.append(("bf16 adapter over fp8 (used)", *_error(out, ref), seconds))
    lora_patch.sync(base, ())

    for fresh in (True, False):
        model = _requantised(full, drawn, args.strength, fresh_scale=fresh)
        out, seconds = _run(model, torch.bfloat16)
        rows.append((f"requantised, {'fresh per-tensor scale' if fresh else 'plain cast'}", *_error(out, ref), seconds))
        del model

    delta = (ref - _run(full, torch.float32, repeats=1)[0]).abs().max().item()
    print(f"rank {args.rank}, strength {args.strength}, {torch.get_num_threads()} threads; the LoRA moves the output by up to {delta:.4f}")
    print(f"{'variant':<38} {'max abs err':>12} {'rel L2 err':>11} {'s/pass':>8}")
    for name, max_abs, rel, seconds in rows:
        print(f"{name:<38} {max_abs:>12.4f} {rel:>11.4%} {seconds:>8.3f}")


if __name__ == "__main__":
    main()

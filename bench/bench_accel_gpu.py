"""SageAttention, TeaCache and fp8 weights on an NVIDIA GPU, at the 14B I2V model's shapes.

1. Attention kernel alone: SDPA vs SageAttention on B=1, 40 heads x 128, 32,760
   tokens (480p, 81 frames), bf16: milliseconds, TFLOPS, cosine similarity.
2. One sampling step (cond + uncond passes) of a 14B-shaped random-weight
   transformer at 480p / 81 frames in bf16: SDPA, SageAttention, and
   SageAttention + TeaCache (a computed step and a skipped step).
3. Peak GPU memory of one pass with bf16 weights vs fp8 (e4m3fn) weights.

Every figure is printed beside the GPU's name. Needs ~40 GB of GPU memory at 40
blocks (--layers lowers it). Exits 0 with a message when CUDA is missing.

    .venv/bin/python bench/bench_accel_gpu.py [--layers 40] [--size 832x480] [--frames 81]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import torch

from comfy_nodes.accel import attention, fp8, teacache

WAN_14B_CONFIG = dict(
    patch_size=(1, 2, 2),
    num_attention_heads=40,
    attention_head_dim=128,
    in_channels=36,
    out_channels=16,
    text_dim=4096,
    freq_dim=256,
    ffn_dim=13824,
    num_layers=40,
    image_dim=1280,
    added_kv_proj_dim=5120,
)
DTYPE = torch.bfloat16


def cuda_ms(fn: Callable[[], object], warmup: int = 2, iters: int = 5) -> float:
    """Median milliseconds of `fn` measured with CUDA events."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return torch.nn.functional.cosine_similarity(a.flatten().float(), b.flatten().float(), dim=0).item()


def bench_kernels(gpu: str, seq: int) -> None:
    from diffusers.models.attention_dispatch import AttentionBackendName, dispatch_attention_fn

    heads, head_dim = WAN_14B_CONFIG["num_attention_heads"], WAN_14B_CONFIG["attention_head_dim"]
    gen = torch.Generator(device="cuda").manual_seed(0)
    q, k, v = (torch.randn(1, seq, heads, head_dim, device="cuda", dtype=DTYPE, generator=gen) for _ in range(3))
    flops = 4 * seq * seq * heads * head_dim

    def run(backend):
        return dispatch_attention_fn(q, k, v, backend=backend)

    reference = run(AttentionBackendName.NATIVE)
    rows = [("sdpa", cuda_ms(lambda: run(AttentionBackendName.NATIVE)), 1.0)]
    reason = attention.sage_reason(DTYPE, head_dim)
    if reason is None:
        sage_out = run(AttentionBackendName.SAGE)
        rows.append(("sage", cuda_ms(lambda: run(AttentionBackendName.SAGE)), cosine(sage_out, reference)))
    print(f"\n## Attention kernel: B=1, {heads} heads x {head_dim}, {seq} tokens, bf16\n")
    print("| GPU | backend | ms | TFLOPS | speed-up | cosine vs sdpa |")
    print("|---|---|---:|---:|---:|---:|")
    for name, ms, cos in rows:
        print(f"| {gpu} | {name} | {ms:.1f} | {flops / ms / 1e9:.0f} | {rows[0][1] / ms:.2f}x | {cos:.5f} |")
    if reason is not None:
        print(f"\nSageAttention not measured: {reason}.")


def build_model(layers: int):
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(DTYPE)  # initialise directly on the GPU in bf16
    try:
        with torch.device("cuda"):
            model = WanTransformer3DModel(**{**WAN_14B_CONFIG, "num_layers": layers}).eval()
    finally:
        torch.set_default_dtype(previous)
    return model


def make_inputs(width: int, height: int, frames: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator(device="cuda").manual_seed(1)
    latent_t, latent_h, latent_w = (frames - 1) // 4 + 1, height // 8, width // 8

    def rand(*shape):
        return torch.randn(*shape, device="cuda", dtype=DTYPE, generator=gen)

    return {
        "hidden_states": rand(1, 36, latent_t, latent_h, latent_w),
        "cond": rand(1, 512, 4096),
        "uncond": rand(1, 512, 4096),
        "image": rand(1, 257, 1280),
    }


@torch.no_grad()
def run_step(model, inputs: dict[str, torch.Tensor], timestep: float, branches=("cond", "uncond")) -> tuple[float, torch.Tensor]:
    """Seconds for one sampling step (one pass per branch) and the cond prediction."""
    torch.cuda.synchronize()
    start = time.perf_counter()
    outputs = []
    for branch in branches:
        with model.cache_context(branch):
            outputs.append(model(hidden_states=inputs["hidden_states"], timestep=torch.tensor([timestep], device="cuda"),
                                 encoder_hidden_states=inputs[branch], encoder_hidden_states_image=inputs["image"],
                                 return_dict=False)[0])
    torch.cuda.synchronize()
    return time.perf_counter() - start, outputs[0]


def bench_step(gpu: str, model, inputs: dict[str, torch.Tensor]) -> None:
    tokens = inputs["hidden_states"][0, 0].numel() // 4
    rows = []
    attention.activate(model, "sdpa")
    run_step(model, inputs, 900.0, ("cond",))  # warm-up
    sdpa_s, sdpa_out = run_step(model, inputs, 900.0)
    rows.append(("sdpa", sdpa_s, ""))

    backend, reason = attention.activate(model, "sage")
    if backend == "sage":
        run_step(model, inputs, 900.0, ("cond",))
        sage_s, sage_out = run_step(model, inputs, 900.0)
        rows.append(("sage", sage_s, f"cosine vs sdpa {cosine(sage_out, sdpa_out):.4f}"))
    # TeaCache with a rule that skips step 1 (and computes step 0 and the last step).
    config = teacache.TeaCacheConfig(threshold=1.0, coefficients=(0.0,), num_steps=3, start_step=1)
    teacache.apply_teacache(model, config)
    computed_s, _ = run_step(model, inputs, 900.0)
    skipped_s, _ = run_step(model, inputs, 890.0)
    run_step(model, inputs, 880.0)
    stats = teacache.teacache_stats(model)
    teacache.remove_teacache(model)
    label = f"{backend}+TeaCache"
    rows.append((f"{label}, computed step", computed_s, ""))
    rows.append((f"{label}, skipped step", skipped_s, f"skipped {sum(s['skipped'] for s in stats.values())} of 6 passes"))
    for fraction in (0.4, 0.6):
        estimate = fraction * skipped_s + (1 - fraction) * computed_s
        rows.append((f"{label}, estimate at {fraction:.0%} skipped", estimate, "mix of the two rows above"))
    attention.restore(model)

    layers, dim = len(model.blocks), model.config.num_attention_heads * model.config.attention_head_dim
    print(f"\n## One sampling step (cond + uncond), {layers} blocks of dim {dim}, {tokens} video tokens, bf16\n")
    print("| GPU | run | s/step | speed-up vs sdpa | note |")
    print("|---|---|---:|---:|---|")
    for name, seconds, note in rows:
        print(f"| {gpu} | {name} | {seconds:.2f} | {sdpa_s / seconds:.2f}x | {note} |")
    if reason is not None:
        print(f"\nSageAttention not used: {reason}.")


def bench_memory(gpu: str, model, inputs: dict[str, torch.Tensor]) -> None:
    rows = []
    for name in ("default", "fp8_e4m3fn"):
        if name != "default":
            fp8.apply_fp8(model, name, DTYPE)  # converts the same weights in place
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        seconds, out = run_step(model, inputs, 900.0, ("cond",))
        rows.append((name, fp8.weight_bytes(model), torch.cuda.max_memory_allocated(), seconds, bool(torch.isfinite(out).all())))
    print("\n## Weights and peak GPU memory of one pass (sdpa)\n")
    print("| GPU | weights | weight GB | peak allocated GB | s/pass | finite |")
    print("|---|---|---:|---:|---:|---:|")
    for name, weights, peak, seconds, finite in rows:
        label = "bf16" if name == "default" else f"{name} (bf16 compute)"
        print(f"| {gpu} | {label} | {weights / 1e9:.2f} | {peak / 1e9:.2f} | {seconds:.2f} | {finite} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=40, help="transformer blocks (40 = the 14B model)")
    parser.add_argument("--size", default="832x480", help="WIDTHxHEIGHT of the video")
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--skip", nargs="*", default=[], choices=["kernels", "step", "memory"])
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("CUDA is not available: this benchmark needs an NVIDIA GPU. Nothing was measured.")
        return 0

    gpu = torch.cuda.get_device_name()
    width, height = (int(v) for v in args.size.split("x"))
    tokens = ((args.frames - 1) // 4 + 1) * (height // 16) * (width // 16)
    print(f"# Acceleration on {gpu} (torch {torch.__version__}, CUDA {torch.version.cuda})")
    if "kernels" not in args.skip:
        bench_kernels(gpu, tokens)
    if {"step", "memory"} - set(args.skip):
        model = build_model(args.layers)
        inputs = make_inputs(width, height, args.frames)
        if "step" not in args.skip:
            bench_step(gpu, model, inputs)
        if "memory" not in args.skip:
            bench_memory(gpu, model, inputs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

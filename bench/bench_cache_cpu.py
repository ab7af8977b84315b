"""TeaCache, MagCache and FirstBlockCache side by side on the CPU, in one run.

The same mid-size random-weight WAN I2V transformer as `bench_accel_cpu.py` (dim 512,
8 blocks, 960 video tokens, fp32) samples with UniPC (shift 3) and CFG 5, once
without a cache and once with each cache, every run on its own copy of the same
weights. All runs advance step by step in turn, so machine load hits them alike.
Reported per run: transformer passes skipped, wall and CPU time per step against
the uncached run, and the final latent's distance from the uncached latent
(relative to how far the uncached run moved the latent from its noise).

MagCache uses the published WAN 2.1 I2V 480P ratios (nearest-interpolated to the
step count), FirstBlockCache diffusers' default threshold and one higher.
With random weights the latent differences say nothing about image quality, and
MagCache's skips follow the published ratios, not this model's residuals.

    .venv/bin/python bench/bench_cache_cpu.py [--steps 20] [--threads 1]
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_accel_cpu import MODEL_CONFIG, LATENT_SHAPE, Lane, build_model, make_inputs  # noqa: E402

from comfy_nodes.accel import diffusers_cache, teacache  # noqa: E402
from comfy_nodes.accel.diffusers_cache import CacheSettings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--shift", type=float, default=3.0)
    parser.add_argument("--cfg", type=float, default=5.0)
    parser.add_argument("--teacache", type=float, default=0.2)
    parser.add_argument("--magcache", type=float, default=0.24)
    parser.add_argument("--fbc", type=float, nargs="+", default=[0.05, 0.1])
    parser.add_argument("--time-freq-max", type=float, default=0.02, help="as in bench_accel_cpu.py (TeaCache's indicator)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    inputs = make_inputs()
    runs: list[tuple[Lane, str]] = [(Lane("no cache", build_model(args.time_freq_max), inputs, args.steps, args.shift, args.cfg), "none")]
    model = build_model(args.time_freq_max)
    teacache.apply_teacache(model, teacache.TeaCacheSettings(threshold=args.teacache, coefficients="480p").for_run(args.steps, "480p"))
    runs.append((Lane(f"TeaCache {args.teacache:g} (480p coefficients)", model, inputs, args.steps, args.shift, args.cfg), "teacache"))
    model = build_model(args.time_freq_max)
    diffusers_cache.apply(model, CacheSettings("magcache", args.magcache, ratios="480p"), args.steps)
    runs.append((Lane(f"MagCache {args.magcache:g}, K 6, retention 0.2 (480P ratios)", model, inputs, args.steps, args.shift, args.cfg), "diffusers"))
    for threshold in args.fbc:
        model = build_model(args.time_freq_max)
        diffusers_cache.apply(model, CacheSettings("fbc", threshold), args.steps)
        runs.append((Lane(f"FirstBlockCache {threshold:g}", model, inputs, args.steps, args.shift, args.cfg), "diffusers"))

    Lane("warm-up", runs[0][0].model, inputs, 1, args.shift, args.cfg).step(0)
    for index in range(args.steps):
        for lane, _ in runs:
            lane.step(index)

    tokens = 1
    for n, p in zip(LATENT_SHAPE, MODEL_CONFIG["patch_size"]):
        tokens *= n // p
    print(f"# Caches on CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__})")
    print(f"model: dim {MODEL_CONFIG['num_attention_heads'] * MODEL_CONFIG['attention_head_dim']}, {MODEL_CONFIG['num_layers']} blocks, "
          f"{tokens} video tokens, fp32; {args.steps} UniPC steps, shift {args.shift}, cfg {args.cfg} (2 passes/step)\n")
    base = runs[0][0]
    moved = (base.latents - inputs.noise).norm()
    passes = 2 * args.steps
    print("| run | passes skipped | s/step (wall) | wall-time ratio | CPU-time ratio | latent diff / latent change |")
    print("|---|---:|---:|---:|---:|---:|")
    for lane, kind in runs:
        counts = {"none": {}, "teacache": teacache.teacache_stats(lane.model), "diffusers": diffusers_cache.stats(lane.model)}[kind]
        skipped = sum(c["skipped"] for c in counts.values())
        diff = ((lane.latents - base.latents).norm() / moved).item()
        print(f"| {lane.name} | {skipped}/{passes} ({skipped / passes:.0%}) | {lane.seconds / args.steps:.3f} "
              f"| {lane.seconds / base.seconds:.2f} | {lane.cpu_seconds / base.cpu_seconds:.2f} | {diff:.4f} |")


if __name__ == "__main__":
    main()

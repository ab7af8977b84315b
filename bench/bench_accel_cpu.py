"""TeaCache speed-up and fp8 weight memory on the CPU, side by side in one run.

A mid-size random-weight WAN I2V transformer (dim 512, 8 blocks, ~1k video tokens,
512 text + 257 image tokens) samples with UniPC flow matching (shift 3) and CFG
(cond + uncond passes per step): once without TeaCache, then with each threshold
(480p coefficients). Random weights give meaningless videos, and a random time
embedder reacts to every sinusoid channel, far more than a trained one; so the
bench keeps only the embedder's low-frequency channels (--time-freq-max), which
makes the TeaCache indicator move per step in the range the coefficients were fitted
for. The indicator's measured range is printed. Then, in fresh processes, the
weight bytes and resident memory of the model with bf16 and with fp8 weights.

    .venv/bin/python bench/bench_accel_cpu.py [--steps 20] [--thresholds 0.1 0.2 0.3] [--threads N]
"""

from __future__ import annotations

import argparse
import gc
import math
import multiprocessing
import os
import platform
import time
from dataclasses import dataclass

import torch
from diffusers import UniPCMultistepScheduler, WanTransformer3DModel

from comfy_nodes.accel import fp8, teacache

MODEL_CONFIG = dict(
    patch_size=(1, 2, 2),
    num_attention_heads=8,
    attention_head_dim=64,
    in_channels=36,
    out_channels=16,
    text_dim=4096,
    freq_dim=256,
    ffn_dim=1536,
    num_layers=8,
    image_dim=1280,
    added_kv_proj_dim=512,
)
# The released 14B I2V shapes (built on the meta device: no memory, just sizes).
WAN_14B_CONFIG = dict(MODEL_CONFIG, num_attention_heads=40, attention_head_dim=128, ffn_dim=13824, num_layers=40, added_kv_proj_dim=5120)
LATENT_SHAPE = (4, 24, 40)  # T, H, W -> 4 x 12 x 20 = 960 tokens after 1x2x2 patches


def build_model(time_freq_max: float, dtype: torch.dtype = torch.float32) -> WanTransformer3DModel:
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # build directly in the target dtype (no fp32 copy in memory)
    try:
        model = WanTransformer3DModel(**MODEL_CONFIG).eval()
    finally:
        torch.set_default_dtype(previous)
    # Sinusoid channel i (cos half, then sin half) has frequency 10000^(-i/half).
    linear = model.condition_embedder.time_embedder.linear_1
    half = linear.in_features // 2
    index = torch.arange(linear.in_features) % half
    frequency = torch.exp(-math.log(10000.0) * index / half)
    with torch.no_grad():
        linear.weight.mul_((frequency <= time_freq_max).to(linear.weight.dtype))
    return model


@dataclass
class Inputs:
    noise: torch.Tensor
    condition: torch.Tensor
    text: torch.Tensor
    negative: torch.Tensor
    image: torch.Tensor


def make_inputs(dtype: torch.dtype = torch.float32) -> Inputs:
    gen = torch.Generator().manual_seed(1)
    t, h, w = LATENT_SHAPE
    rand = lambda *shape: torch.randn(*shape, generator=gen).to(dtype)  # noqa: E731
    return Inputs(rand(1, 16, t, h, w), rand(1, 20, t, h, w), rand(1, 512, 4096), rand(1, 512, 4096), rand(1, 257, 1280))


def make_scheduler(steps: int, shift: float) -> UniPCMultistepScheduler:
    scheduler = UniPCMultistepScheduler(
        num_train_timesteps=1000, use_flow_sigmas=True, prediction_type="flow_prediction", flow_shift=shift
    )
    scheduler.set_timesteps(steps)
    return scheduler


class Lane:
    """One sampling run (its own model copy, scheduler and latent), advanced one step at a time.

    All runs advance step by step in turn, so a change in machine load hits every run alike.
    """

    def __init__(self, name: str, model, inputs: Inputs, steps: int, shift: float, cfg: float) -> None:
        self.name, self.model, self.inputs, self.cfg = name, model, inputs, cfg
        self.scheduler = make_scheduler(steps, shift)
        self.latents = inputs.noise.clone()
        self.seconds = 0.0  # wall clock
        self.cpu_seconds = 0.0  # this process's CPU time: steady when other processes load the machine

    @torch.no_grad()
    def step(self, index: int) -> None:
        t = self.scheduler.timesteps[index]
        start, cpu_start = time.perf_counter(), time.process_time()
        x = torch.cat([self.latents, self.inputs.condition], dim=1)
        preds = []
        for branch, text in (("cond", self.inputs.text), ("uncond", self.inputs.negative)):
            with self.model.cache_context(branch):
                preds.append(self.model(hidden_states=x, timestep=t.expand(1).float(), encoder_hidden_states=text,
                                        encoder_hidden_states_image=self.inputs.image, return_dict=False)[0])
        cond, uncond = preds
        self.latents = self.scheduler.step(uncond + self.cfg * (cond - uncond), t, self.latents).prev_sample
        self.seconds += time.perf_counter() - start
        self.cpu_seconds += time.process_time() - cpu_start


def indicator_range(model, steps: int, shift: float) -> tuple[float, float, float]:
    scheduler = make_scheduler(steps, shift)
    text = torch.zeros(1, 1, MODEL_CONFIG["text_dim"])
    with torch.no_grad():
        temb = [model.condition_embedder(t.expand(1).float(), text)[0] for t in scheduler.timesteps]
    rel = [((b - a).abs().mean() / a.abs().mean()).item() for a, b in zip(temb, temb[1:])]
    return min(rel), sum(rel) / len(rel), max(rel)


# ---------------------------------------------------------------- memory


def full_size_weight_bytes(weight_dtype: str) -> int:
    with torch.device("meta"):
        model = WanTransformer3DModel(**WAN_14B_CONFIG).to(torch.bfloat16)
    fp8.apply_fp8(model, weight_dtype, torch.bfloat16)
    return fp8.weight_bytes(model)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _memory_worker(weight_dtype: str, time_freq_max: float, queue) -> None:
    torch.set_num_threads(1)
    gc.collect()
    base = _rss()
    model = build_model(time_freq_max, torch.bfloat16)
    fp8.apply_fp8(model, weight_dtype, torch.bfloat16)
    gc.collect()
    loaded = _rss() - base
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # a short pass (16 tokens) proves the stored weights compute
        out = model(hidden_states=torch.randn(1, 36, 1, 8, 8, generator=gen).bfloat16(), timestep=torch.tensor([500.0]),
                    encoder_hidden_states=torch.randn(1, 512, 4096, generator=gen).bfloat16(),
                    encoder_hidden_states_image=torch.randn(1, 257, 1280, generator=gen).bfloat16(), return_dict=False)[0]
    queue.put((fp8.weight_bytes(model), loaded, bool(torch.isfinite(out).all())))


def measure_memory(weight_dtype: str, time_freq_max: float) -> tuple[int, int, bool]:
    # A fixed mmap threshold makes glibc hand freed large buffers back, so RSS tracks live memory.
    os.environ["MALLOC_MMAP_THRESHOLD_"] = "131072"
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_memory_worker, args=(weight_dtype, time_freq_max, queue))
    proc.start()
    result = queue.get(timeout=600)
    proc.join()
    return result


# ---------------------------------------------------------------- report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.1, 0.2, 0.3])
    parser.add_argument("--shift", type=float, default=3.0)
    parser.add_argument("--cfg", type=float, default=5.0)
    parser.add_argument("--time-freq-max", type=float, default=0.02, help="keep time-embedder channels up to this frequency")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 keeps CPU time per step steady under load)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model, inputs = build_model(args.time_freq_max), make_inputs()
    tokens = math.prod(n // p for n, p in zip(LATENT_SHAPE, MODEL_CONFIG["patch_size"]))
    low, mean, high = indicator_range(model, args.steps, args.shift)
    print(f"# TeaCache and fp8 on CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__})")
    print(f"model: dim {MODEL_CONFIG['num_attention_heads'] * MODEL_CONFIG['attention_head_dim']}, "
          f"{MODEL_CONFIG['num_layers']} blocks, ffn {MODEL_CONFIG['ffn_dim']}, {tokens} video tokens, fp32; "
          f"{args.steps} UniPC steps, shift {args.shift}, cfg {args.cfg} (2 passes/step)")
    print(f"indicator (temb) relative change per step: min {low:.3f}, mean {mean:.3f}, max {high:.3f}\n")

    lanes = [Lane("no TeaCache", model, inputs, args.steps, args.shift, args.cfg)]
    for threshold in args.thresholds:
        copy = build_model(args.time_freq_max)
        config = teacache.TeaCacheSettings(threshold=threshold, coefficients="480p").for_run(args.steps, "480p")
        teacache.apply_teacache(copy, config)
        lanes.append(Lane(f"TeaCache {threshold:g} (480p)", copy, inputs, args.steps, args.shift, args.cfg))
    Lane("warm-up", model, inputs, 1, args.shift, args.cfg).step(0)
    for index in range(args.steps):
        for lane in lanes:
            lane.step(index)

    base, passes = lanes[0], 2 * args.steps
    # Latent error relative to how far the baseline moved the latent from the starting noise.
    moved = (base.latents - inputs.noise).norm()
    print("| run | s/step (wall) | CPU s/step | passes skipped | speed-up (CPU time) | speed-up (wall) | latent diff / latent change |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for lane in lanes:
        skipped = sum(s["skipped"] for s in teacache.teacache_stats(lane.model).values())
        diff = ((lane.latents - base.latents).norm() / moved).item()
        print(f"| {lane.name} | {lane.seconds / args.steps:.3f} | {lane.cpu_seconds / args.steps:.3f} "
              f"| {skipped}/{passes} ({skipped / passes:.0%}) | {base.cpu_seconds / lane.cpu_seconds:.2f}x "
              f"| {base.seconds / lane.seconds:.2f}x | {diff:.4f} |")

    print("\n| weights | weight bytes | RSS after load | short bf16 pass finite |")
    print("|---|---:|---:|---:|")
    memory = {name: measure_memory(name, args.time_freq_max) for name in ("default", "fp8_e4m3fn")}
    for name, (weights, rss, finite) in memory.items():
        label = "bf16" if name == "default" else "fp8_e4m3fn (bf16 compute)"
        print(f"| {label} | {weights / 2**20:.1f} MiB | {rss / 2**20:.1f} MiB | {finite} |")
    ratio = memory["fp8_e4m3fn"][0] / memory["default"][0]
    print(f"\nfp8 / bf16: weight bytes {ratio:.3f}, RSS {memory['fp8_e4m3fn'][1] / memory['default'][1]:.3f} "
          "(the embedders kept in bf16 weigh more here than in the 14B model)")
    full = {name: full_size_weight_bytes(name) for name in ("default", "fp8_e4m3fn")}
    print(f"14B shapes (meta device): bf16 {full['default'] / 1e9:.2f} GB, fp8 {full['fp8_e4m3fn'] / 1e9:.2f} GB "
          f"({full['fp8_e4m3fn'] / full['default']:.3f})")


if __name__ == "__main__":
    main()

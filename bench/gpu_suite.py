"""One GPU benchmark suite: per-step cost, VAE decode, peak memory, end-to-end estimates.

On one CUDA GPU, with random weights built on the GPU itself (real weights need not
be present), side by side in one run:

1. seconds per sampling step of a 14B-shaped WAN I2V transformer at 480p and 720p
   (81 frames) for sdpa vs SageAttention, bf16 vs FP8 weights (layerwise upcast), and
   1 vs 2 CFG passes, with the peak memory of each;
2. the VAE (WAN 2.1 shapes) encoding the conditioning video and decoding 81 frames,
   tiled and untiled, with peak memory;
3. end-to-end estimates for the released workflows: steps x per-step + encode + decode,
   and the 40-step workflow with TeaCache / MagCache counted at their published skip
   rates (labelled as such; text and CLIP encoding are not counted, a second or two).

It prints one table and writes it into docs/benchmarks.md ("GPU suite" section) with
the card's name. Planned to finish in under 8 minutes on an H100-class card; anything
that does not fit the time budget is reported as skipped. Without CUDA it says so and
exits 0. `--tiny` runs the same code with a tiny model at tiny sizes on any device
(a check of the script itself; nothing is written).

    .venv/bin/python bench/gpu_suite.py [--budget-s 450] [--no-write] [--tiny]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from comfy_nodes.accel import attention, fp8  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
SECTION = "## GPU suite (`bench/gpu_suite.py`)"
WAN_14B = dict(
    patch_size=(1, 2, 2), num_attention_heads=40, attention_head_dim=128, in_channels=36, out_channels=16,
    text_dim=4096, freq_dim=256, ffn_dim=13824, num_layers=40, image_dim=1280, added_kv_proj_dim=5120,
)  # fmt: skip
TINY = dict(WAN_14B, num_attention_heads=2, attention_head_dim=32, ffn_dim=128, num_layers=2, added_kv_proj_dim=64)
SIZES = {"480p": (832, 480), "720p": (1280, 720)}
FRAMES = 81
# Published skip rates for the 40-step workflow (estimates, labelled as such in the table):
# TeaCache 0.26 at 480p: 13m20s -> 5m22s on an A800 (MagCache README) ~ 60% of the passes skipped;
# MagCache 0.24 / K 6 / retention 0.2: blocks run on 15 of 40 steps per branch (diffusers hook).
SKIP_RATES = {"TeaCache 0.26 (published ~60% skipped)": 0.60, "MagCache 0.24 (15 of 40 steps computed)": 25 / 40}


@dataclass
class Suite:
    device: torch.device
    dtype: torch.dtype
    deadline: float
    tiny: bool
    rows: list[tuple[str, ...]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    per_step: dict[tuple[str, str, str, int], float] = field(default_factory=dict)  # (res, attn, weights, passes) -> s
    vae: dict[tuple[str, str], float] = field(default_factory=dict)  # (res, "encode"|"decode"|"decode tiled") -> s

    def time_left(self) -> float:
        return self.deadline - time.perf_counter()

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def measure(self, fn: Callable[[], object], repeats: int = 1, warm_up: bool = True) -> tuple[float, float]:
        """(seconds per call, after one warm-up call unless the caller just warmed the same work; peak GiB allocated)."""
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        if warm_up:
            fn()
        self.sync()
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        self.sync()
        seconds = (time.perf_counter() - start) / repeats
        peak = torch.cuda.max_memory_allocated() / 2**30 if self.device.type == "cuda" else float("nan")
        return seconds, peak


def _size(suite: Suite, res: str) -> tuple[int, int, int]:
    width, height = SIZES[res] if not suite.tiny else (64, 48)
    frames = FRAMES if not suite.tiny else 5
    return width, height, frames


def _transformer(suite: Suite):
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(suite.dtype)  # initialised where it runs, in the compute dtype
    try:
        with suite.device:
            return WanTransformer3DModel(**(TINY if suite.tiny else WAN_14B)).eval().requires_grad_(False)
    finally:
        torch.set_default_dtype(previous)


def _inputs(suite: Suite, res: str) -> dict[str, torch.Tensor]:
    width, height, frames = _size(suite, res)
    gen = torch.Generator(device=suite.device).manual_seed(1)
    rand = lambda *s: torch.randn(*s, device=suite.device, dtype=suite.dtype, generator=gen)  # noqa: E731
    return {
        "hidden_states": rand(1, 36, (frames - 1) // 4 + 1, height // 8, width // 8),
        "cond": rand(1, 512, 4096),
        "uncond": rand(1, 512, 4096),
        "image": rand(1, 257, 1280),
    }


@torch.no_grad()
def _step(model, inputs: dict[str, torch.Tensor], passes: int) -> None:
    timestep = torch.tensor([500.0], device=inputs["hidden_states"].device)
    for branch in ("cond", "uncond")[:passes]:
        with model.cache_context(branch):
            model(hidden_states=inputs["hidden_states"], timestep=timestep, encoder_hidden_states=inputs[branch],
                  encoder_hidden_states_image=inputs["image"], return_dict=False)  # fmt: skip


def bench_transformer(suite: Suite) -> None:
    model = _transformer(suite)
    for weights in ("bf16", "fp8_e4m3fn"):
        if weights != "bf16":
            fp8.apply_fp8(model, weights, suite.dtype)  # in place: bf16 runs come first
        for res in SIZES:
            inputs = _inputs(suite, res)
            for backend in ("sdpa", "sage"):
                chosen, reason = attention.activate(model, backend)
                if chosen != backend:
                    suite.skipped.append(f"{res} {backend} {weights}: {reason}")
                    continue
                for passes in (1, 2):
                    label = f"transformer step, {res}, {backend}, {weights}, {passes} pass{'es' if passes == 2 else ''}"
                    if suite.time_left() < 60:
                        suite.skipped.append(f"{label}: out of time")
                        continue
                    # The 1-pass run warms up this configuration; the 2-pass step (cond + uncond) follows it.
                    seconds, peak = suite.measure(lambda: _step(model, inputs, passes), warm_up=passes == 1)
                    suite.per_step[(res, backend, weights, passes)] = seconds
                    suite.rows.append((label, f"{seconds:.2f} s", f"{peak:.1f} GiB"))
            attention.restore(model)
            del inputs
    del model
    if suite.device.type == "cuda":
        torch.cuda.empty_cache()


@torch.no_grad()
def bench_vae(suite: Suite) -> None:
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    config = {} if not suite.tiny else {"base_dim": 8}
    with suite.device:
        vae = AutoencoderKLWan(**config).eval().requires_grad_(False)  # fp32, as the workflows run it
    for res in SIZES:
        width, height, frames = _size(suite, res)
        video = torch.randn(1, 3, frames, height, width, device=suite.device)
        latent = torch.randn(1, 16, (frames - 1) // 4 + 1, height // 8, width // 8, device=suite.device)
        for name, tiled, fn in (
            ("encode", False, lambda: vae.encode(video).latent_dist.mode()),
            ("decode", False, lambda: vae.decode(latent).sample),
            ("decode tiled", True, lambda: vae.decode(latent).sample),
        ):
            label = f"VAE {name}, {res}, {frames} frames (fp32{', tiles 256/192 px' if tiled else ''})"
            if suite.time_left() < 45:
                suite.skipped.append(f"{label}: out of time")
                continue
            if tiled:
                vae.enable_tiling(256, 256, 192, 192)
            try:
                seconds, peak = suite.measure(fn)
            except torch.OutOfMemoryError:
                suite.skipped.append(f"{label}: out of GPU memory")
                continue
            finally:
                vae.disable_tiling()
            suite.vae[(res, name)] = seconds
            suite.rows.append((label, f"{seconds:.2f} s", f"{peak:.1f} GiB"))
        del video, latent
    del vae


def estimates(suite: Suite) -> list[tuple[str, str, str]]:
    rows = []
    for res in SIZES:
        encode, decode = suite.vae.get((res, "encode")), suite.vae.get((res, "decode"))
        if encode is None or decode is None:
            continue
        quality = suite.per_step.get((res, "sage", "bf16", 2)) or suite.per_step.get((res, "sdpa", "bf16", 2))
        fast = suite.per_step.get((res, "sage", "fp8_e4m3fn", 1)) or suite.per_step.get((res, "sdpa", "fp8_e4m3fn", 1))
        if quality is not None:
            rows.append((f"estimate: i2v_{res}, 40 steps x 2 passes + encode + decode", f"{40 * quality + encode + decode:.0f} s", ""))
            for name, skip in SKIP_RATES.items():
                rows.append((f"estimate: i2v_{res} with {name}", f"{40 * quality * (1 - skip) + encode + decode:.0f} s", ""))
        if fast is not None:
            rows.append((f"estimate: i2v_{res}_fast, 4 steps x 1 pass (fp8) + encode + decode", f"{4 * fast + encode + decode:.0f} s", ""))
    return rows


def table(suite: Suite, card: str) -> str:
    lines = [
        SECTION,
        "",
        f"Card: {card}; torch {torch.__version__}; random weights at the WAN 2.1 I2V 14B shapes, bf16 compute "
        "(FP8 = fp8_e4m3fn storage, layerwise upcast); 81 frames; one timed run after one warm-up of each configuration.",
        "",
        "| measurement | time | peak memory |",
        "|---|---:|---:|",
        *[f"| {name} | {seconds} | {peak} |" for name, seconds, peak in suite.rows + estimates(suite)],
    ]
    if suite.skipped:
        lines += ["", "Not measured: " + "; ".join(suite.skipped) + "."]
    return "\n".join(lines) + "\n"


def write_docs(text: str) -> None:
    docs = DOCS.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(SECTION) + r".*?(?=\n## |\Z)", re.S)
    docs = pattern.sub(lambda _: text.rstrip("\n"), docs) if pattern.search(docs) else docs.rstrip("\n") + "\n\n" + text
    DOCS.write_text(docs, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-s", type=float, default=450.0, help="stop starting measurements after this many seconds")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--tiny", action="store_true", help="tiny model and sizes on any device: checks the script")
    args = parser.parse_args()
    if not torch.cuda.is_available() and not args.tiny:
        print("gpu_suite: no CUDA GPU here; nothing measured (run it on a machine with an NVIDIA GPU).")
        return 0
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    card = torch.cuda.get_device_name(0) if device.type == "cuda" else "CPU (--tiny check)"
    suite = Suite(device=device, dtype=dtype, deadline=time.perf_counter() + args.budget_s, tiny=args.tiny)
    started = time.perf_counter()
    bench_transformer(suite)
    bench_vae(suite)
    text = table(suite, card)
    print(text)
    print(f"(suite took {time.perf_counter() - started:.0f} s)")
    if not args.no_write and not args.tiny:
        write_docs(text)
        print(f"written to {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Per-stage timings of the demo pipeline on this machine.

Runs the real nodes on the tiny random-weight demo model (its videos are noise):
text encode, image encode (CLIP + VAE), sampling (seconds per step), VAE decode,
MP4 encode. Stages are timed in one process, side by side.

    .venv/bin/python bench/bench_pipeline.py [--size 256x144] [--frames 17] [--steps 8]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch

from comfy_nodes import host
from comfy_nodes.models import demo
from comfy_nodes.nodes.encode import WanI2VImageEncode, WanI2VTextEncode
from comfy_nodes.nodes.loaders import WanI2VCLIPVisionLoader, WanI2VModelLoader, WanI2VTextEncoderLoader, WanI2VVAELoader
from comfy_nodes.nodes.sampling import WanI2VDecode, WanI2VSampler
from comfy_nodes.nodes.video import WanI2VSaveVideo


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="256x144", help="WIDTHxHEIGHT, multiples of 16")
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        demo.make_demo_model(root / "models")
        host.set_models_dir(root / "models")
        host.set_io_dirs(input=root / "in", output=root / "out", temp=root / "tmp")
        names = demo.FILES
        model = WanI2VModelLoader().load(names["diffusion_models"])[0]
        text_encoder = WanI2VTextEncoderLoader().load(names["text_encoders"])[0]
        clip = WanI2VCLIPVisionLoader().load(names["clip_vision"])[0]
        vae = WanI2VVAELoader().load(names["vae"])[0]
        image = torch.rand(1, height, width, 3, generator=torch.Generator().manual_seed(0))

        rows = []
        (text,), t = timed(WanI2VTextEncode().encode, text_encoder, "a boat on the sea at sunset")
        rows.append(("text encode (prompt + negative)", t))
        (embeds,), t = timed(WanI2VImageEncode().encode, clip, vae, image, "custom", width, height, args.frames)
        rows.append(("image encode (CLIP + VAE)", t))
        out, t = timed(WanI2VSampler().sample, model, text, embeds, args.steps, 5.0, 3.0, 0, "unipc")
        latent = out["result"][0]
        rows.append((f"sampling, {args.steps} steps with CFG", t))
        rows.append(("  per step", t / args.steps))
        (frames,), t = timed(WanI2VDecode().decode, vae, latent)
        rows.append(("VAE decode", t))
        _, t = timed(WanI2VSaveVideo().save, frames, 16.0, "bench/video", "mp4", 19)
        rows.append((f"MP4 encode ({args.frames} frames)", t))

    total = sum(t for name, t in rows if not name.startswith("  "))
    print(f"Demo pipeline, {width}x{height}, {args.frames} frames, {args.steps} steps, torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads")
    print("| stage | seconds | share |")
    print("|---|---|---|")
    for name, t in rows:
        share = "" if name.startswith("  ") else f"{100 * t / total:.0f}%"
        print(f"| {name} | {t:.3f} | {share} |")
    print(f"| total | {total:.3f} | 100% |")


if __name__ == "__main__":
    main()

"""Video encode throughput of WanI2VSaveVideo's writer (frames per second).

Encodes WAN's default clip length (81 frames) at 832x480 and at 480x272, as
mp4 (H.264) and webm (VP9), from a float IMAGE tensor, as the save node does:
the time includes the float -> uint8 conversion and piping to ffmpeg.

    .venv/bin/python bench/bench_video_encode.py [--repeats 3] [--frames 81]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from comfy_nodes.video.ffmpeg import ffmpeg_exe, probe_video, write_video

CASES = [("mp4", 832, 480), ("webm", 832, 480), ("mp4", 480, 272), ("webm", 480, 272)]


def synthetic_clip(frames: int, height: int, width: int) -> torch.Tensor:
    """A moving gradient with a moving disc and fixed fine texture: smooth areas, edges and detail."""
    gen = torch.Generator().manual_seed(0)
    y = torch.linspace(0, 1, height).view(1, height, 1)
    x = torch.linspace(0, 1, width).view(1, 1, width)
    t = torch.linspace(0, 1, frames).view(frames, 1, 1)
    red = (x + 0.5 * t) % 1.0
    green = y.expand(frames, height, width)
    disc = (((x - 0.2 - 0.6 * t) * width / height) ** 2 + (y - 0.5) ** 2) < 0.04
    blue = torch.where(disc, 1.0, 0.3)
    texture = torch.rand((1, height, width), generator=gen) * 0.06
    clip = torch.stack([red.expand(frames, height, width), green, blue.expand(frames, height, width)], dim=-1)
    return (clip + texture[..., None]).clamp(0, 1).contiguous()


def run(repeats: int, frames: int, crf: int) -> None:
    print(f"ffmpeg: {ffmpeg_exe()}")
    print(f"CPU cores: {os.cpu_count()}, torch threads: {torch.get_num_threads()}, crf {crf}, {repeats} runs each (median)\n")
    print(f"{'format':<6} {'size':>9} {'frames':>6} {'seconds':>8} {'frames/s':>9} {'MB':>7}")
    with tempfile.TemporaryDirectory() as folder:
        for fmt, width, height in CASES:
            clip = synthetic_clip(frames, height, width)
            path = Path(folder) / f"bench_{width}x{height}.{fmt}"
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                write_video(clip, path, fps=16, fmt=fmt, crf=crf)
                times.append(time.perf_counter() - start)
            assert probe_video(path).num_frames == frames
            seconds = statistics.median(times)
            size_mb = path.stat().st_size / 1e6
            print(f"{fmt:<6} {width:>4}x{height:<4} {frames:>6} {seconds:>8.2f} {frames / seconds:>9.1f} {size_mb:>7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per case; the median is shown")
    parser.add_argument("--frames", type=int, default=81, help="frames per clip (WAN default: 81)")
    parser.add_argument("--crf", type=int, default=19, help="quality setting (the save node's default: 19)")
    args = parser.parse_args()
    run(args.repeats, args.frames, args.crf)


if __name__ == "__main__":
    main()

"""Progress ticks for VAE encode and decode: one per encoder/decoder call (a frame chunk of a tile).

diffusers' WAN VAE runs its encoder once per chunk of frames (1, then 4 at a time)
and its decoder once per latent frame, once per tile when tiling is on. A forward
hook counts those calls, so long decodes report progress and, like every progress
tick, can be interrupted between chunks.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

from .. import host


def encode_calls(vae: Any, num_frames: int, height: int, width: int) -> int:
    """Encoder calls for a [.., num_frames, height, width] pixel clip."""
    chunks = 1 + (num_frames - 1) // 4
    if getattr(vae, "use_tiling", False) and (width > vae.tile_sample_min_width or height > vae.tile_sample_min_height):
        return chunks * math.ceil(height / vae.tile_sample_stride_height) * math.ceil(width / vae.tile_sample_stride_width)
    return chunks


def decode_calls(vae: Any, latent_frames: int, height: int, width: int) -> int:
    """Decoder calls for a [.., latent_frames, height, width] latent."""
    ratio = vae.spatial_compression_ratio
    if getattr(vae, "use_tiling", False) and (width > vae.tile_sample_min_width // ratio or height > vae.tile_sample_min_height // ratio):
        stride_h, stride_w = vae.tile_sample_stride_height // ratio, vae.tile_sample_stride_width // ratio
        return latent_frames * math.ceil(height / stride_h) * math.ceil(width / stride_w)
    return latent_frames


@contextlib.contextmanager
def counted(module: Any, total: int) -> Iterator[host.Progress]:
    """Tick a Progress of `total` on every forward call of `module` inside the block."""
    progress = host.Progress(max(int(total), 1))
    handle = module.register_forward_hook(lambda *_: progress.update(1))
    try:
        yield progress
    finally:
        handle.remove()

"""Putting the VAE on the compute device for one encode or decode, in tiles when needed.

The VAE is loaded into CPU memory and placed here, right before it runs, through
the host adapter: inside ComfyUI that is its model management, which first unloads
other models until the weights and the working memory of this call fit, and may
unload the VAE again later (for another model, or on `/free`). Outside ComfyUI it
moves once and stays.

A VAE loaded without a tile size runs whole frames when they fit the card and tiles
of AUTO_TILE pixels when they would not (a 720p decode needs about 26 GB whole, one
256 px tile about 1.8 GB), and again in tiles when whole frames run out of memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import torch

from .. import host
from ..comfy_managed import module_bytes
from .types import Vae

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Working memory of WAN 2.1's VAE per pixel (encode) or per latent pixel (decode), in
# elements, for clips of more than a few frames: the estimates ComfyUI uses for it.
_ENCODE_PER_PIXEL = 6000
_DECODE_PER_LATENT_PIXEL = 7000 * 8 * 8
AUTO_TILE = 256  # pixels; what tiles are when the card is short (about 1.8 GB of work per fp32 decode tile)


def set_tiles(vae: torch.nn.Module, tile_size: int) -> None:
    """Tiles of `tile_size` pixels overlapping by a quarter, seams blended (0: whole frames)."""
    if tile_size:
        stride = tile_size * 3 // 4
        vae.enable_tiling(tile_size, tile_size, stride, stride)
    else:
        vae.disable_tiling()


def working_bytes(vae: Vae, kind: str, height: int, width: int, tiled: bool | None = None) -> int:
    """Bytes an encode (`height` x `width` pixels) or decode (latent size) needs beside the
    weights; with tiling (`tiled`, else as the VAE is set), one tile's worth."""
    model = vae.vae
    scale = 1 if kind == "encode" else model.spatial_compression_ratio
    if getattr(model, "use_tiling", False) if tiled is None else tiled:
        height = min(height, model.tile_sample_min_height // scale)
        width = min(width, model.tile_sample_min_width // scale)
    per = _ENCODE_PER_PIXEL if kind == "encode" else _DECODE_PER_LATENT_PIXEL
    return per * height * width * torch.tensor([], dtype=vae.dtype).element_size()


def place_vae(vae: Vae, kind: str, height: int, width: int) -> torch.device:
    """Bring the VAE onto the compute device for one call (choosing tiles first, unless the
    loader fixed them); returns the device."""
    device = host.get_device()
    if not vae.tile_size:
        _tile_if_short(vae, kind, height, width, device)
    host.load_to_device(vae.vae, device, memory_required=working_bytes(vae, kind, height, width))
    return device


def run_vae(vae: Vae, kind: str, height: int, width: int, call: Callable[[torch.device], T]) -> T:
    """Place the VAE and run `call(device)`; if whole frames run out of memory, once more in tiles."""
    device = place_vae(vae, kind, height, width)
    try:
        return call(device)
    except torch.OutOfMemoryError:
        if vae.tile_size or vae.vae.use_tiling:
            raise
    # Out of the except block, so the failed attempt's tensors are already released.
    logger.warning("The VAE %s ran out of memory on whole frames; running it again in %d px tiles.", kind, AUTO_TILE)
    host.soft_empty_cache()
    set_tiles(vae.vae, AUTO_TILE)
    return call(device)


def _tile_if_short(vae: Vae, kind: str, height: int, width: int, device: torch.device) -> None:
    room = host.memory_room(device)
    needed = module_bytes(vae.vae) - module_bytes(vae.vae, device) + working_bytes(vae, kind, height, width, tiled=False)
    short = room is not None and needed > room
    if short and not vae.vae.use_tiling:
        logger.info("The VAE %s needs about %.1f GB on whole frames and %.1f GB are available: using %d px tiles.",
                    kind, needed / 1e9, room / 1e9, AUTO_TILE)  # fmt: skip
    set_tiles(vae.vae, AUTO_TILE if short else 0)

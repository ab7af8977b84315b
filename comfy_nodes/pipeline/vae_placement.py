"""Putting the VAE on the compute device for one encode or decode.

The VAE is loaded into CPU memory and placed here, right before it runs, through
the host adapter: inside ComfyUI that is its model management, which first unloads
other models until the weights and the working memory of this call fit, and may
unload the VAE again later (for another model, or on `/free`). Outside ComfyUI it
moves once and stays.
"""

from __future__ import annotations

import torch

from .. import host
from .types import Vae

# Working memory of WAN 2.1's VAE per pixel (encode) or per latent pixel (decode), in
# elements, for clips of more than a few frames: the estimates ComfyUI uses for it.
_ENCODE_PER_PIXEL = 6000
_DECODE_PER_LATENT_PIXEL = 7000 * 8 * 8


def working_bytes(vae: Vae, kind: str, height: int, width: int) -> int:
    """Bytes an encode (`height` x `width` pixels) or decode (latent size) needs beside the
    weights; with tiling, one tile's worth."""
    model = vae.vae
    scale = 1 if kind == "encode" else model.spatial_compression_ratio
    if getattr(model, "use_tiling", False):
        height = min(height, model.tile_sample_min_height // scale)
        width = min(width, model.tile_sample_min_width // scale)
    per = _ENCODE_PER_PIXEL if kind == "encode" else _DECODE_PER_LATENT_PIXEL
    return per * height * width * torch.tensor([], dtype=vae.dtype).element_size()


def place_vae(vae: Vae, kind: str, height: int, width: int) -> torch.device:
    """Bring the VAE onto the compute device for one call; returns the device."""
    device = host.get_device()
    host.load_to_device(vae.vae, device, memory_required=working_bytes(vae, kind, height, width))
    return device

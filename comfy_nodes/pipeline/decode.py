"""Latent -> ComfyUI IMAGE frames."""

from __future__ import annotations

import torch

from .types import Latent, Vae
from .vae_placement import run_vae
from .vae_progress import counted, decode_calls


@torch.no_grad()
def decode_latent(vae: Vae, latent: Latent) -> torch.Tensor:
    """Decode a normalised WAN latent to [frames, H, W, 3] floats in 0..1 (on the CPU)."""
    cfg = vae.vae.config
    z = latent.samples

    def run(device: torch.device) -> torch.Tensor:
        mean = torch.tensor(cfg.latents_mean, device=device).view(1, -1, 1, 1, 1)
        std = torch.tensor(cfg.latents_std, device=device).view(1, -1, 1, 1, 1)
        with counted(vae.vae.decoder, decode_calls(vae.vae, z.shape[2], z.shape[3], z.shape[4])):
            video = vae.vae.decode((z.to(device, torch.float32) * std + mean).to(vae.dtype)).sample  # [1, 3, F, H, W]
        frames = video[0, :, : latent.num_frames].float().clamp(-1, 1).add(1).mul(0.5)  # from -1..1
        return frames.permute(1, 2, 3, 0).contiguous().cpu()

    return run_vae(vae, "decode", z.shape[-2], z.shape[-1], run)

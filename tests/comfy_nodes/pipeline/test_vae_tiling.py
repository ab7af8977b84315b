"""The VAE loader's tile_size: tiled encode/decode runs tiles and agrees with the whole-frame pass."""

from __future__ import annotations

import torch

from comfy_nodes.models import loaders
from comfy_nodes.pipeline import decode
from comfy_nodes.pipeline.types import Latent


def _latent(vae, frames: int = 3, height: int = 18, width: int = 32) -> Latent:
    torch.manual_seed(0)
    channels = vae.vae.config.z_dim
    # A smooth latent, like a real one: tiles see similar content across their overlap.
    coarse = torch.randn(1, channels, frames, height // 6, width // 8)
    samples = torch.nn.functional.interpolate(coarse, size=(frames, height, width), mode="trilinear")
    return Latent(samples=samples, num_frames=(frames - 1) * 4 + 1)


def test_tiled_decode_runs_in_tiles_and_matches_untiled(demo_paths):
    whole = loaders.load_vae(demo_paths["vae"])
    tiled = loaders.load_vae(demo_paths["vae"], tile_size=192)  # 256x144 output: two 192 px tiles side by side
    assert tiled.vae.use_tiling and not whole.vae.use_tiling
    calls = []
    original = tiled.vae.tiled_decode
    tiled.vae.tiled_decode = lambda *a, **k: calls.append(1) or original(*a, **k)
    latent = _latent(whole)
    reference = decode.decode_latent(whole, latent)
    result = decode.decode_latent(tiled, latent)
    assert calls, "the tiled path did not run"
    assert result.shape == reference.shape == (latent.num_frames, 144, 256, 3)
    # The tiles overlap by a quarter and are blended. A tile cannot see the whole frame, and the
    # random-weight demo VAE mixes the frame strongly (mid-block attention), so the two agree
    # only to about 24-29 dB PSNR here, depending on the random draw (frames in 0..1); 20 dB
    # still fails a decode that drops a tile (half a frame of zeros is about 10 dB).
    psnr = 10 * torch.log10(1 / (result - reference).pow(2).mean())
    assert psnr > 20, float(psnr)
    assert not torch.equal(result, reference)  # tiling really changed the computation


def test_tiles_larger_than_the_frame_change_nothing(demo_paths):
    whole = loaders.load_vae(demo_paths["vae"])
    tiled = loaders.load_vae(demo_paths["vae"], tile_size=512)
    latent = _latent(whole)
    assert torch.equal(decode.decode_latent(tiled, latent), decode.decode_latent(whole, latent))

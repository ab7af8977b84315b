"""The VAE loader's tile_size: tiled encode/decode runs tiles and agrees with the whole-frame pass;
without a size, tiles are chosen when the card is short (or runs out of memory)."""

from __future__ import annotations

import pytest
import torch

from comfy_nodes import host
from comfy_nodes.models import loaders
from comfy_nodes.pipeline import decode, vae_placement
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


def _count_tiled(vae) -> list[int]:
    calls: list[int] = []
    original = vae.vae.tiled_decode
    vae.vae.tiled_decode = lambda *a, **k: calls.append(1) or original(*a, **k)
    return calls


def test_without_a_tile_size_a_short_card_gets_tiles_and_a_roomy_one_whole_frames(demo_paths, monkeypatch):
    # The room on the card is the GPU's part, faked here; everything else runs for real on the CPU.
    auto = loaders.load_vae(demo_paths["vae"])
    fixed = loaders.load_vae(demo_paths["vae"], tile_size=192)
    assert host.memory_room(torch.device("cpu")) is None  # the CPU never tiles by itself
    latent = _latent(auto, frames=2, width=40)  # 320 px wide: wider than one 256 px tile
    whole_need = vae_placement.working_bytes(auto, "decode", 18, 40, tiled=False)
    calls = _count_tiled(auto)

    monkeypatch.setattr(host, "memory_room", lambda device: 10 * whole_need)
    roomy = decode.decode_latent(auto, latent)
    assert not calls and not auto.vae.use_tiling

    monkeypatch.setattr(host, "memory_room", lambda device: whole_need // 2)
    short = decode.decode_latent(auto, latent)
    assert calls and auto.vae.tile_sample_min_width == vae_placement.AUTO_TILE
    reference = loaders.load_vae(demo_paths["vae"], tile_size=vae_placement.AUTO_TILE)
    assert torch.equal(short, decode.decode_latent(reference, latent))
    assert not torch.equal(short, roomy)

    decode.decode_latent(fixed, latent)  # a fixed size stays, short card or not
    assert fixed.vae.use_tiling and fixed.vae.tile_sample_min_width == 192


def test_whole_frames_that_run_out_of_memory_run_again_in_tiles(demo_paths, monkeypatch):
    auto = loaders.load_vae(demo_paths["vae"])
    latent = _latent(auto, frames=2, width=40)
    real = auto.vae._decode
    attempts: list[bool] = []

    def decode_like_a_full_card(*args, **kwargs):  # a GPU's out-of-memory error, raised on whole frames only
        attempts.append(auto.vae.use_tiling)
        if not auto.vae.use_tiling:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 25.80 GiB")
        return real(*args, **kwargs)

    monkeypatch.setattr(auto.vae, "_decode", decode_like_a_full_card)
    result = decode.decode_latent(auto, latent)
    assert attempts[0] is False and attempts[-1] is True
    reference = loaders.load_vae(demo_paths["vae"], tile_size=vae_placement.AUTO_TILE)
    assert torch.equal(result, decode.decode_latent(reference, latent))

    fixed = loaders.load_vae(demo_paths["vae"], tile_size=192)
    monkeypatch.setattr(fixed.vae, "_decode", lambda *a, **k: (_ for _ in ()).throw(torch.OutOfMemoryError("full")))
    with pytest.raises(torch.OutOfMemoryError):  # tiles already: nothing smaller to try
        decode.decode_latent(fixed, latent)

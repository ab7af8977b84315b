"""The VAE waits in CPU memory and is placed through the host adapter for each encode and decode
(inside ComfyUI: its model management, which makes room for the weights plus the call's work)."""

from __future__ import annotations

import torch

from comfy_nodes import host
from comfy_nodes.models import loaders
from comfy_nodes.pipeline import decode, image, vae_placement
from comfy_nodes.pipeline.types import Latent


def _record_placements(monkeypatch) -> list[tuple[torch.nn.Module, int]]:
    calls: list[tuple[torch.nn.Module, int]] = []
    real = host.load_to_device

    def recording(module, device, memory_required=0):
        calls.append((module, memory_required))
        real(module, device, memory_required)

    monkeypatch.setattr(host, "load_to_device", recording)
    return calls


def test_the_vae_is_placed_for_each_encode_and_decode_with_its_working_memory(demo_paths, monkeypatch):
    vae = loaders.load_vae(demo_paths["vae"])
    assert next(vae.vae.parameters()).device == host.offload_device()
    calls = _record_placements(monkeypatch)
    clip = loaders.load_clip_vision(demo_paths["clip_vision"])

    start = torch.rand(1, 48, 64, 3)
    embeds = image.encode_start_image(clip, vae, start, "custom", 64, 48, 5)
    latent = Latent(samples=torch.randn(1, 16, 2, 6, 8), num_frames=5)
    frames = decode.decode_latent(vae, latent)

    placed_vae = [(module, need) for module, need in calls if module is vae.vae]
    # float32: 4 bytes; encode counts pixels (48x64), decode latent pixels (6x8) times 8x8.
    assert [need for _, need in placed_vae] == [6000 * 48 * 64 * 4, 7000 * 64 * 6 * 8 * 4]
    assert embeds.condition.shape[-2:] == (6, 8) and frames.shape == (5, 48, 64, 3)


def test_tiling_bounds_the_working_memory_by_one_tile(demo_paths):
    whole = loaders.load_vae(demo_paths["vae"])
    tiled = loaders.load_vae(demo_paths["vae"], tile_size=256)
    # 720p decode: a 90x160 latent; with 256 px tiles each call sees at most 32x32 latent pixels.
    assert vae_placement.working_bytes(whole, "decode", 90, 160) == 7000 * 64 * 90 * 160 * 4
    assert vae_placement.working_bytes(tiled, "decode", 90, 160) == 7000 * 64 * 32 * 32 * 4
    assert vae_placement.working_bytes(tiled, "encode", 720, 1280) == 6000 * 256 * 256 * 4

"""The text encoder stays on the device when there is room, and keeps visiting it when not."""

from __future__ import annotations

import pytest
import torch

from comfy_nodes.accel import offload
from comfy_nodes.models import loaders
from comfy_nodes.pipeline import text

CPU = torch.device("cpu")
GB = 1 << 30


@pytest.fixture
def encoder(demo_paths):
    loaded = loaders.load_text_encoder(demo_paths["text_encoders"], "fp32")
    offload.apply_offload(loaded.encoder, "model", CPU)  # as on a GPU machine: waits in RAM
    return loaded


def _free_memory(monkeypatch, free: int, total: int) -> list[torch.device]:
    asked: list[torch.device] = []

    def info(device: torch.device) -> tuple[int, int]:
        asked.append(device)
        return free, total

    monkeypatch.setattr(offload, "memory_info", info)
    return asked


def test_encoder_stays_when_the_device_has_room(encoder, monkeypatch):
    expected = text.encode_prompts(encoder, "a cat", "blurry")
    asked = _free_memory(monkeypatch, free=70 * GB, total=80 * GB)
    first = text.encode_prompts(encoder, "a cat", "blurry")
    assert asked and offload.offload_mode(encoder.encoder) == "none"  # no more trips from RAM
    assert torch.equal(first.positive, expected.positive) and torch.equal(first.negative, expected.negative)
    text.encode_prompts(encoder, "a dog", "blurry")
    assert len(asked) == 1  # decided once; a resident encoder is not asked about again


def test_encoder_keeps_visiting_when_memory_is_short(encoder, monkeypatch):
    # 24 GB card with 12 GB free: staying would leave under 60% free for the transformer and VAE.
    asked = _free_memory(monkeypatch, free=12 * GB, total=24 * GB)
    text.encode_prompts(encoder, "a cat", "blurry")
    text.encode_prompts(encoder, "a dog", "blurry")
    assert len(asked) == 2  # asked again each prompt: memory may have been freed meanwhile
    assert offload.offload_mode(encoder.encoder) == "model"


def test_no_device_memory_to_share_on_the_cpu():
    assert offload.memory_info(CPU) is None
    module = torch.nn.Linear(2, 2)
    offload.apply_offload(module, "model", CPU)
    assert not offload.stay_if_room(module, CPU)
    offload.apply_offload(module, "none", CPU)
    assert offload.stay_if_room(module, CPU)

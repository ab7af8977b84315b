"""A tiny random WAN I2V transformer and inputs for the acceleration tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from diffusers import WanTransformer3DModel

TINY_CONFIG = dict(
    patch_size=(1, 2, 2),
    num_attention_heads=2,
    attention_head_dim=16,
    in_channels=36,
    out_channels=16,
    text_dim=32,
    freq_dim=32,
    ffn_dim=64,
    num_layers=2,
    image_dim=24,
    added_kv_proj_dim=32,
)


def build_tiny(seed: int = 0, **overrides) -> WanTransformer3DModel:
    torch.manual_seed(seed)
    return WanTransformer3DModel(**{**TINY_CONFIG, **overrides}).eval()


@pytest.fixture
def tiny_model() -> WanTransformer3DModel:
    return build_tiny()


@pytest.fixture
def tiny_factory() -> Callable[..., WanTransformer3DModel]:
    """Builds more tiny models (same weights for the same seed)."""
    return build_tiny


@pytest.fixture
def tiny_inputs() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return {
        "hidden_states": torch.randn(1, 36, 3, 8, 8, generator=gen),
        "encoder_hidden_states": torch.randn(1, 512, 32, generator=gen),
        "negative": torch.randn(1, 512, 32, generator=gen),
        "encoder_hidden_states_image": torch.randn(1, 257, 24, generator=gen),
    }


def forward(model: torch.nn.Module, inputs: dict[str, torch.Tensor], timestep: float, text_key: str = "encoder_hidden_states") -> torch.Tensor:
    with torch.no_grad():
        return model(
            hidden_states=inputs["hidden_states"],
            timestep=torch.tensor([timestep]),
            encoder_hidden_states=inputs[text_key],
            encoder_hidden_states_image=inputs["encoder_hidden_states_image"],
            return_dict=False,
        )[0]


def cfg_loop(
    model: torch.nn.Module,
    inputs: dict[str, torch.Tensor],
    timesteps: list[float],
    after_step: Callable[[int], None] | None = None,
) -> list[torch.Tensor]:
    """Run cond and uncond passes per timestep inside cache contexts, as the sampler does."""
    outputs = []
    for i, t in enumerate(timesteps):
        for branch, key in (("cond", "encoder_hidden_states"), ("uncond", "negative")):
            with model.cache_context(branch):
                outputs.append(forward(model, inputs, t, key))
        if after_step is not None:
            after_step(i)
    return outputs


@pytest.fixture
def run_loop() -> Callable[..., list[torch.Tensor]]:
    return cfg_loop


@pytest.fixture
def run_forward() -> Callable[..., torch.Tensor]:
    return forward

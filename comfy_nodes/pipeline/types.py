"""Objects that flow between the nodes (ComfyUI custom types WAN_*).

They are plain containers; the nodes treat them as immutable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class WanModel:
    """WAN_MODEL: the diffusers transformer plus how to run it."""

    transformer: Any  # diffusers WanTransformer3DModel
    dtype: torch.dtype
    source: str  # file or folder it came from
    options: dict[str, Any] = field(default_factory=dict)  # attention backend, fp8, offload ...

    @property
    def resolution_class(self) -> str | None:
        """'480p' or '720p' when the source name says so (for TeaCache presets)."""
        name = self.source.lower()
        return "720p" if "720p" in name else "480p" if "480p" in name else None


@dataclass
class TextEncoder:
    """WAN_TEXT_ENCODER: a UMT5 encoder and its SentencePiece tokenizer."""

    encoder: Any  # transformers UMT5EncoderModel
    tokenizer: Any  # comfy_nodes.models.tokenizer.SentencePieceTokenizer
    dtype: torch.dtype


@dataclass
class ClipVision:
    """WAN_CLIP_VISION: CLIP ViT-H/14 vision tower."""

    model: Any  # transformers CLIPVisionModel
    dtype: torch.dtype
    image_size: int


@dataclass
class Vae:
    """WAN_VAE: the WAN 2.1 causal video VAE."""

    vae: Any  # diffusers AutoencoderKLWan
    dtype: torch.dtype
    tile_size: int = 0  # fixed tiles of this many pixels; 0: chosen per call (pipeline/vae_placement.py)


@dataclass
class TextEmbeds:
    """WAN_TEXT_EMBEDS: UMT5 states, trimmed to their length and zero-padded to 512."""

    positive: torch.Tensor  # [1, 512, text_dim]
    negative: torch.Tensor  # [1, 512, text_dim]
    prompt: str
    negative_prompt: str


@dataclass
class ImageEmbeds:
    """WAN_IMAGE_EMBEDS: everything the sampler needs from the start image."""

    clip_features: torch.Tensor  # [1, 257, 1280] penultimate CLIP states
    condition: torch.Tensor  # [1, 20, T, h/8, w/8]: 4 mask channels + 16 latent channels
    width: int
    height: int
    num_frames: int


@dataclass
class Latent:
    """WAN_LATENT: the denoised (normalised) video latent and what the sampler observed."""

    samples: torch.Tensor  # [1, 16, T, h/8, w/8]
    num_frames: int
    stats: dict[str, Any] = field(default_factory=dict)

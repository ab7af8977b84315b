"""Prompt encoding with umT5, padded the way the official model expects."""

from __future__ import annotations

import torch

from .. import host
from ..accel import offload
from .defaults import TEXT_LEN
from .types import TextEmbeds, TextEncoder


@torch.no_grad()
def encode_text(encoder: TextEncoder, text: str, max_length: int = TEXT_LEN) -> torch.Tensor:
    """umT5 states of `text`, trimmed to its tokens and zero-padded to `max_length`.

    The official WAN model pads the context to 512 tokens with zeros inside its
    forward; diffusers' transformer does not, so we pad here (it changes the output).
    """
    ids = encoder.tokenizer.encode(text, max_length)
    model = encoder.encoder
    device = host.get_device()
    with offload.on_device(model, device):  # a GPU holds umT5 (11 GB in bf16) only while encoding
        input_ids = torch.tensor([ids], device=device)
        states = model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).last_hidden_state
    padded = states.new_zeros(1, max_length, states.shape[-1])
    padded[:, : len(ids)] = states
    return padded


def encode_prompts(encoder: TextEncoder, prompt: str, negative_prompt: str) -> TextEmbeds:
    return TextEmbeds(
        positive=encode_text(encoder, prompt),
        negative=encode_text(encoder, negative_prompt),
        prompt=prompt,
        negative_prompt=negative_prompt,
    )

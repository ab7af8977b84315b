"""Prompt encoding with umT5, padded the way the official model expects."""

from __future__ import annotations

import torch

from .. import host
from ..accel import offload
from .defaults import TEXT_LEN
from .types import TextEmbeds, TextEncoder


@torch.no_grad()
def encode_texts(encoder: TextEncoder, texts: list[str], max_length: int = TEXT_LEN) -> list[torch.Tensor]:
    """umT5 states of each text, trimmed to its tokens and zero-padded to `max_length`.

    All texts go through the encoder as one batch, so a GPU visit (umT5 is 11 GB in
    bf16 and waits in RAM between prompts) happens once, not once per text. The
    official WAN model pads the context to 512 tokens with zeros inside its forward;
    diffusers' transformer does not, so we pad here (it changes the output).
    """
    ids = [encoder.tokenizer.encode(text, max_length) for text in texts]
    longest = max(len(i) for i in ids)
    model = encoder.encoder
    device = host.get_device()
    # Shorter texts are padded with id 0 and masked out, so their states match a lone encode.
    input_ids = torch.zeros(len(ids), longest, dtype=torch.long)
    mask = torch.zeros(len(ids), longest, dtype=torch.long)
    for row, tokens in enumerate(ids):
        input_ids[row, : len(tokens)] = torch.tensor(tokens)
        mask[row, : len(tokens)] = 1
    offload.stay_if_room(model, device)  # resident when the card has room; else visits per prompt
    with offload.on_device(model, device):
        states = model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).last_hidden_state
    padded = states.new_zeros(len(ids), max_length, states.shape[-1])
    for row, tokens in enumerate(ids):
        padded[row, : len(tokens)] = states[row, : len(tokens)]
    return list(padded.split(1))


def encode_text(encoder: TextEncoder, text: str, max_length: int = TEXT_LEN) -> torch.Tensor:
    """umT5 states of one text, shape (1, max_length, dim)."""
    return encode_texts(encoder, [text], max_length)[0]


def encode_prompts(encoder: TextEncoder, prompt: str, negative_prompt: str) -> TextEmbeds:
    """Prompt and negative prompt in one encoder pass."""
    positive, negative = encode_texts(encoder, [prompt, negative_prompt])
    return TextEmbeds(positive=positive, negative=negative, prompt=prompt, negative_prompt=negative_prompt)

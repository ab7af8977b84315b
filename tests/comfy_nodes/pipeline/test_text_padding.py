"""The text context is trimmed to its tokens and zero-padded to 512, as the official model does."""

from __future__ import annotations

import torch

from comfy_nodes.models import loaders
from comfy_nodes.pipeline import text
from comfy_nodes.models.demo import IMAGE_DIM, TEXT_DIM


def test_context_is_zero_padded_to_512(demo_paths):
    encoder = loaders.load_text_encoder(demo_paths["text_encoders"])
    states = text.encode_text(encoder, "a cat on a boat")
    n = len(encoder.tokenizer.encode("a cat on a boat", 512))
    assert states.shape == (1, 512, TEXT_DIM)
    assert torch.count_nonzero(states[0, n:]) == 0
    assert torch.all(states[0, :n].abs().sum(-1) > 0)


def test_padding_changes_the_transformer_output(demo_paths):
    """Why we pad: feeding the unpadded context gives a different prediction."""
    encoder = loaders.load_text_encoder(demo_paths["text_encoders"])
    transformer = loaders.load_transformer(demo_paths["diffusion_models"]).transformer
    padded = text.encode_text(encoder, "a cat on a boat")
    n = len(encoder.tokenizer.encode("a cat on a boat", 512))
    torch.manual_seed(0)
    common = dict(hidden_states=torch.randn(1, 36, 1, 4, 4), timestep=torch.tensor([700.0]),
                  encoder_hidden_states_image=torch.randn(1, 257, IMAGE_DIM), return_dict=False)  # fmt: skip
    out_padded = transformer(encoder_hidden_states=padded, **common)[0]
    out_trimmed = transformer(encoder_hidden_states=padded[:, :n], **common)[0]
    assert not torch.allclose(out_padded, out_trimmed, atol=1e-6)


def test_prompt_and_negative_share_one_encoder_pass_and_match_lone_encodes(demo_paths):
    encoder = loaders.load_text_encoder(demo_paths["text_encoders"])
    calls = []
    handle = encoder.encoder.register_forward_pre_hook(
        lambda module, args, kwargs: calls.append(kwargs["input_ids"].shape), with_kwargs=True
    )
    try:
        embeds = text.encode_prompts(encoder, "a cat", "blurry, low quality, static, worst quality, watermark")
    finally:
        handle.remove()
    assert len(calls) == 1 and calls[0][0] == 2  # one visit, a batch of two
    lone_positive = text.encode_text(encoder, "a cat")
    lone_negative = text.encode_text(encoder, "blurry, low quality, static, worst quality, watermark")
    # Same numbers as separate encodes (the shorter text's padding is masked out); fp32 on the CPU, where
    # a batch of two sums the 4096-wide rows in another order (a few 1e-6); unmasked padding moves them by 1e-1.
    torch.testing.assert_close(embeds.positive, lone_positive, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(embeds.negative, lone_negative, rtol=1e-5, atol=1e-5)
    n = len(encoder.tokenizer.encode("a cat", 512))
    assert torch.count_nonzero(embeds.positive[0, n:]) == 0

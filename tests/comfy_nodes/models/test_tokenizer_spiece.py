"""Token ids come from SentencePiece itself, with EOS appended."""

from __future__ import annotations

import sentencepiece as spm

from comfy_nodes.models import loaders
from comfy_nodes.models.tokenizer import clean_text


def test_ids_match_sentencepiece(demo_paths):
    encoder = loaders.load_text_encoder(demo_paths["text_encoders"])
    reference = spm.SentencePieceProcessor(model_proto=(demo_paths["diffusers"] / "tokenizer" / "spiece.model").read_bytes())
    text = "a cat on a boat, golden hour"
    ids = encoder.tokenizer.encode(text, 512)
    assert ids == reference.encode(text) + [1]


def test_prompt_cleaning_unescapes_and_collapses_whitespace():
    assert clean_text("  a &amp; b \n\t c ") == "a & b c"


def test_long_prompt_truncated_to_max_length(demo_paths):
    encoder = loaders.load_text_encoder(demo_paths["text_encoders"])
    ids = encoder.tokenizer.encode("cat " * 2000, 512)
    assert len(ids) == 512 and ids[-1] == encoder.tokenizer.eos_id

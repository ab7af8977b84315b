"""umT5 tokenization with SentencePiece itself.

ComfyUI's umT5 files carry the SentencePiece model inside as the uint8 tensor
`spiece_model`; diffusers folders carry `tokenizer/spiece.model`. We always
tokenize with SentencePiece directly: transformers' T5 tokenizers built from a
small SentencePiece file can map pieces to the wrong ids.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import sentencepiece as spm
import torch

from ..errors import ModelFormatError

SPIECE_KEY = "spiece_model"


class SentencePieceTokenizer:
    """Encodes text to umT5 ids: cleaned text, then EOS, truncated to max_length."""

    def __init__(self, model_proto: bytes) -> None:
        self.processor = spm.SentencePieceProcessor()
        try:
            self.processor.LoadFromSerializedProto(model_proto)
        except Exception as exc:  # sentencepiece raises plain RuntimeError/OSError
            raise ModelFormatError(f"The text encoder's SentencePiece tokenizer is unreadable: {exc}") from exc
        self.model_proto = model_proto
        self.eos_id = self.processor.eos_id() if self.processor.eos_id() >= 0 else 1
        self.pad_id = self.processor.pad_id() if self.processor.pad_id() >= 0 else 0

    @classmethod
    def from_file(cls, path: Path) -> SentencePieceTokenizer:
        return cls(Path(path).read_bytes())

    @classmethod
    def from_tensor(cls, tensor: torch.Tensor) -> SentencePieceTokenizer:
        return cls(tensor.to(torch.uint8).cpu().numpy().tobytes())

    @property
    def vocab_size(self) -> int:
        return self.processor.get_piece_size()

    def encode(self, text: str, max_length: int) -> list[int]:
        ids = self.processor.encode(clean_text(text))
        return ids[: max_length - 1] + [self.eos_id]


def clean_text(text: str) -> str:
    """WAN's prompt cleaning: unescape HTML entities, collapse whitespace."""
    text = html.unescape(html.unescape(text))
    return re.sub(r"\s+", " ", text).strip()

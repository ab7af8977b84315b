"""Write small safetensors files by hand (header plus zero bytes), as the real files are laid out."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

BYTES = {"F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "U8": 1}


def safetensors_bytes(tensors: dict[str, tuple[str, tuple[int, ...]]], metadata: dict[str, str] | None = None) -> bytes:
    header: dict[str, object] = {}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        size = math.prod(shape) * BYTES[dtype]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    if metadata:
        header["__metadata__"] = metadata
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + bytes(offset)


def write_safetensors(path: Path, tensors: dict[str, tuple[str, tuple[int, ...]]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(safetensors_bytes(tensors))
    return path


def wan_14b_i2v_header(dtype: str = "BF16", prefix: str = "") -> dict[str, tuple[str, tuple[int, ...]]]:
    """The tensors that identify a WAN 2.1 I2V 14B transformer, at their real shapes (no big FFN weights)."""
    small = "F32" if dtype.startswith("F8") else dtype  # fp8 files keep norms and modulations in full precision
    t = {
        "patch_embedding.weight": (dtype, (5120, 36, 1, 2, 2)),
        "head.modulation": (small, (1, 2, 5120)),
        "head.head.weight": (dtype, (64, 5120)),
        "img_emb.proj.0.bias": (small, (1280,)),
    }
    t.update({f"blocks.{i}.modulation": (small, (1, 6, 5120)) for i in range(40)})
    return {prefix + k: v for k, v in t.items()}


def vae_header() -> dict[str, tuple[str, tuple[int, ...]]]:
    return {
        "encoder.conv1.weight": ("BF16", (96, 3, 3, 3, 3)),
        "conv1.weight": ("BF16", (32, 32, 1, 1, 1)),
        "conv2.weight": ("BF16", (16, 16, 1, 1, 1)),
        "decoder.middle.0.residual.0.gamma": ("BF16", (384, 1, 1, 1)),
    }


def umt5_header(dtype: str = "F16") -> dict[str, tuple[str, tuple[int, ...]]]:
    t = {"shared.weight": (dtype, (256, 4096)), "spiece_model": ("U8", (64,))}  # vocab cut down to keep it small
    for i in range(24):
        t[f"encoder.block.{i}.layer.0.SelfAttention.relative_attention_bias.weight"] = (dtype, (32, 64))
    return t


def clip_h_header() -> dict[str, tuple[str, tuple[int, ...]]]:
    t = {"vision_model.embeddings.patch_embedding.weight": ("F16", (1280, 3, 14, 14))}
    for i in range(32):
        t[f"vision_model.encoder.layers.{i}.layer_norm1.weight"] = ("F16", (1280,))
    return t

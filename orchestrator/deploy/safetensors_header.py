"""Read a safetensors file's header (names, dtypes, shapes) without torch and without reading the weights.

Layout: an 8-byte little-endian header length N, then N bytes of JSON
`{name: {"dtype", "shape", "data_offsets"}, "__metadata__": {...}}`, then the data.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SafetensorsHeaderError

MAX_HEADER = 100 * 1024 * 1024
DTYPE_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "F8_E8M0": 1,
    "F4": 0.5,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U64": 8,
    "U32": 4,
    "U16": 2,
    "U8": 1,
    "BOOL": 1,
}


@dataclass(frozen=True)
class Tensor:
    dtype: str
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return int(self.numel * DTYPE_BYTES.get(self.dtype, 1))


@dataclass(frozen=True)
class Header:
    tensors: dict[str, Tensor]
    metadata: dict[str, str] = field(default_factory=dict)

    def dtype_shares(self) -> dict[str, float]:
        """Share of the weight bytes per dtype, largest first."""
        totals: dict[str, int] = {}
        for t in self.tensors.values():
            totals[t.dtype] = totals.get(t.dtype, 0) + t.nbytes
        whole = sum(totals.values()) or 1
        return dict(sorted(((k, v / whole) for k, v in totals.items()), key=lambda kv: -kv[1]))

    def main_dtype(self) -> str:
        shares = self.dtype_shares()
        return next(iter(shares), "?")

    def parameters(self) -> int:
        return sum(t.numel for t in self.tensors.values())


def read_header(path: Path) -> Header:
    """The header of a safetensors file; raises SafetensorsHeaderError if it is not one."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise SafetensorsHeaderError(f"{path} is too short to be a safetensors file.")
            (length,) = struct.unpack("<Q", head)
            if length > MAX_HEADER or length + 8 > size:
                raise SafetensorsHeaderError(f"{path} is not a safetensors file (header length {length}).")
            raw = fh.read(length)
    except OSError as exc:
        raise SafetensorsHeaderError(f"Cannot read {path}: {exc}") from exc
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SafetensorsHeaderError(f"{path} is not a safetensors file (its header is not JSON).") from exc
    if not isinstance(data, dict):
        raise SafetensorsHeaderError(f"{path} is not a safetensors file (its header is not an object).")
    metadata = data.pop("__metadata__", None) or {}
    tensors = {}
    for name, info in data.items():
        try:
            tensors[name] = Tensor(str(info["dtype"]), tuple(int(d) for d in info["shape"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise SafetensorsHeaderError(f"{path}: tensor {name!r} has a malformed header entry.") from exc
    return Header(tensors, {str(k): str(v) for k, v in metadata.items()})

"""FP8 weights: reading fp8 checkpoints and storing the transformer's weights in fp8.

Reading (`prepare_state_dict`, before key conversion). Three fp8 layouts exist:
- plain fp8 (`*_fp8_e4m3fn.safetensors`): fp8 tensors, no scales;
- legacy "scaled": a top-level `scaled_fp8` marker (its dtype names the format;
  fp32 means e4m3fn) plus `<layer>.scale_weight` (and optional `.scale_input`);
- newer "scaled": `<layer>.weight_scale` (+ optional `.input_scale` and a
  `<layer>.comfy_quant` JSON byte tensor naming the format).
Every fp8 tensor comes back in the compute dtype, scaled ones as w_fp8 * scale;
scale and marker keys are dropped. Upcasting fp8 values is exact, so a model
built from the result computes on exactly the stored values.

Scaled transformer files keep their fp8 storage instead (`take_scales`, then
`apply_scaled`): each scaled Linear becomes a `ScaledFP8Linear` that holds the
fp8 weight and its scale and computes with w_fp8 * scale in the compute dtype,
so a 14B file stays 16 GB and computes on exactly what the file stores.

Storing (`apply_fp8`): diffusers layerwise casting keeps Linear/Conv weights in
fp8 and casts each layer to the compute dtype only while it runs. Precision
sensitive parts stay in the compute dtype: patch embedding, the time, text and
image embedders, norms, modulation tables and the output head.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from itertools import chain

import torch
from diffusers.hooks import apply_layerwise_casting

from ..errors import ModelFormatError, ParameterError

logger = logging.getLogger(__name__)

WEIGHT_DTYPES: dict[str, torch.dtype | None] = {
    "default": None,
    "fp8_e4m3fn": torch.float8_e4m3fn,
    "fp8_e5m2": torch.float8_e5m2,
}
FP8_DTYPES = (torch.float8_e4m3fn, torch.float8_e5m2)
_FORMAT_NAMES = {"float8_e4m3fn": torch.float8_e4m3fn, "float8_e5m2": torch.float8_e5m2}

# Module-name patterns (re.search) that keep their weights in the compute dtype.
SKIP_PATTERNS = ("patch_embedding", "condition_embedder", "norm", "scale_shift_table", "^proj_out$", "rope")

_MARKER = "scaled_fp8"
_WEIGHT_SCALE_SUFFIXES = (".scale_weight", ".weight_scale")
_DROPPED_SUFFIXES = (".scale_input", ".input_scale", ".comfy_quant")


def storage_dtype(weight_dtype: str) -> torch.dtype | None:
    """The storage dtype for a loader `weight_dtype` option (None for "default")."""
    if weight_dtype not in WEIGHT_DTYPES:
        raise ParameterError(f"weight_dtype must be one of {tuple(WEIGHT_DTYPES)}, got {weight_dtype!r}.")
    return WEIGHT_DTYPES[weight_dtype]


def _is_marker(key: str) -> bool:
    return key == _MARKER or key.endswith("." + _MARKER)


def _quant_format(tensor: torch.Tensor, key: str) -> torch.dtype:
    """The fp8 dtype named by a `comfy_quant` JSON byte tensor."""
    try:
        info = json.loads(bytes(tensor.to(torch.uint8).flatten().tolist()).decode("utf-8"))
        name = info["format"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFormatError(f"Unreadable quantization info in '{key}': {exc}.") from exc
    if name not in _FORMAT_NAMES:
        raise ModelFormatError(
            f"'{key}' uses the quantization format {name!r}; only float8_e4m3fn and float8_e5m2 weights are supported."
        )
    return _FORMAT_NAMES[name]


def _apply_scale(weight: torch.Tensor, scale: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    scale = scale.to(torch.float32)
    if scale.numel() > 1 and scale.ndim == 1 and scale.numel() == weight.shape[0]:
        scale = scale.reshape(-1, *([1] * (weight.ndim - 1)))  # one scale per output channel
    return (weight.to(torch.float32) * scale).to(dtype)


def prepare_state_dict(
    state_dict: Mapping[str, torch.Tensor], compute_dtype: torch.dtype
) -> tuple[dict[str, torch.Tensor], torch.dtype | None]:
    """Dequantise an fp8 checkpoint (see the module docstring).

    Returns the new state dict and the fp8 dtype the file stored (None when it
    held no fp8 weights). Non-fp8 tensors pass through untouched.
    """
    stored: torch.dtype | None = None
    scales: dict[str, torch.Tensor] = {}
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state_dict.items():
        if _is_marker(key):
            stored = tensor.dtype if tensor.dtype in FP8_DTYPES else torch.float8_e4m3fn
        elif key.endswith(_WEIGHT_SCALE_SUFFIXES):
            layer = key.rsplit(".", 1)[0]
            scales[layer + ".weight"] = tensor
        elif key.endswith(".comfy_quant"):
            stored = stored or _quant_format(tensor, key)
        elif not key.endswith(_DROPPED_SUFFIXES):
            out[key] = tensor

    unused = [k for k in scales if k not in out]
    if unused:
        raise ModelFormatError(f"fp8 scales without a weight: {', '.join(unused[:5])}.")
    for key, tensor in out.items():
        scale = scales.get(key)
        if tensor.dtype in FP8_DTYPES:
            stored = stored or tensor.dtype
        elif scale is None:
            continue
        out[key] = _apply_scale(tensor, scale, compute_dtype) if scale is not None else tensor.to(compute_dtype)
    if stored is not None:
        logger.info("Checkpoint stores %s weights (%d scaled); dequantised to %s.", stored, len(scales), compute_dtype)
    return out, stored


def stored_fp8(state_dict: Mapping[str, torch.Tensor]) -> torch.dtype | None:
    """The fp8 dtype of a plain fp8 checkpoint's tensors (None when it holds none)."""
    return next((t.dtype for t in state_dict.values() if t.dtype in FP8_DTYPES), None)


def stays_fp8(param_name: str) -> bool:
    """Whether `apply_fp8` stores this (diffusers-named) parameter in fp8, so a plain
    fp8 file's tensor can be kept as it is instead of upcast and cast back."""
    module_name = param_name.rsplit(".", 1)[0]
    return not any(re.search(pattern, module_name) for pattern in SKIP_PATTERNS)


def take_scales(
    state_dict: Mapping[str, torch.Tensor], compute_dtype: torch.dtype
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Split a scaled fp8 checkpoint into its tensors (scaled weights still fp8) and the
    scales by weight key. Unscaled fp8 tensors are upcast (exact); markers are dropped."""
    scales: dict[str, torch.Tensor] = {}
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state_dict.items():
        if key.endswith(_WEIGHT_SCALE_SUFFIXES):
            scales[key.rsplit(".", 1)[0] + ".weight"] = tensor.to(torch.float32)
        elif not (_is_marker(key) or key.endswith(_DROPPED_SUFFIXES)):
            out[key] = tensor
    unused = [k for k in scales if k not in out]
    if unused:
        raise ModelFormatError(f"fp8 scales without a weight: {', '.join(unused[:5])}.")
    for key, tensor in out.items():
        if key in scales and tensor.dtype not in FP8_DTYPES:
            out[key] = _apply_scale(tensor, scales.pop(key), compute_dtype)  # a scale on a full-precision weight
        elif key not in scales and tensor.dtype in FP8_DTYPES:
            out[key] = tensor.to(compute_dtype)
    return out, scales


class ScaledFP8Linear(torch.nn.Module):
    """A Linear whose weight stays in fp8 with its scale; computes with w_fp8 * scale."""

    def __init__(self, linear: torch.nn.Linear, scale: torch.Tensor, compute_dtype: torch.dtype) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = torch.nn.Parameter(linear.weight.data, requires_grad=False)
        self.bias = linear.bias
        self.register_buffer("scale", scale.to(torch.float32).reshape(-1, *([1] * (linear.weight.ndim - 1))))
        self.compute_dtype = compute_dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = (self.weight.to(torch.float32) * self.scale).to(x.dtype)
        bias = self.bias.to(x.dtype) if self.bias is not None else None
        return torch.nn.functional.linear(x, weight, bias)


def apply_scaled(module: torch.nn.Module, scales: Mapping[str, torch.Tensor], compute_dtype: torch.dtype) -> int:
    """Swap each Linear whose `<name>.weight` has a scale for a ScaledFP8Linear; returns how many."""
    for key, scale in scales.items():
        name = key[: -len(".weight")]
        parent_name, _, child = name.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        linear = getattr(parent, child)
        if not isinstance(linear, torch.nn.Linear):
            raise ModelFormatError(f"'{key}' has an fp8 scale but is not a Linear layer's weight.")
        setattr(parent, child, ScaledFP8Linear(linear, scale, compute_dtype))
    logger.info("%d scaled fp8 layers kept in fp8 (compute %s).", len(scales), compute_dtype)
    return len(scales)


def apply_fp8(transformer: torch.nn.Module, weight_dtype: str, compute_dtype: torch.dtype) -> None:
    """Store the transformer's block weights in fp8, computing in `compute_dtype`. No-op for "default"."""
    storage = storage_dtype(weight_dtype)
    if storage is None:
        return
    apply_layerwise_casting(
        transformer,
        storage_dtype=storage,
        compute_dtype=compute_dtype,
        skip_modules_pattern=SKIP_PATTERNS,
    )
    logger.info("Transformer weights stored as %s (compute %s): %.2f GB.", storage, compute_dtype, weight_bytes(transformer) / 1e9)


def weight_bytes(module: torch.nn.Module) -> int:
    """Bytes held by the module's parameters and buffers, in the dtypes they are stored in."""
    return sum(t.numel() * t.element_size() for t in chain(module.parameters(), module.buffers()))

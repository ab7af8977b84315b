"""Attention backend choice (PyTorch SDPA or SageAttention) through diffusers' dispatch.

Every WAN attention processor passes its `_attention_backend` to diffusers'
`dispatch_attention_fn`; choosing a backend means setting that attribute on
this model's processors. `ModelMixin.set_attention_backend` would also switch
the process-wide default (every other diffusers model), so it is not used.

SageAttention needs an NVIDIA GPU of compute capability 8.0 or newer, the
`sageattention` package (>= 2.1.1, as diffusers requires), fp16/bf16 compute and
a head dim of at most 128. When any of these is missing the model stays on
SDPA and the reason is logged once and returned.
"""

from __future__ import annotations

import logging

import torch
from diffusers.models import attention_dispatch
from diffusers.models.attention import AttentionModuleMixin
from diffusers.models.attention_dispatch import AttentionBackendName, dispatch_attention_fn

from ..errors import ParameterError

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "sdpa", "sage")
_DIFFUSERS_BACKENDS = {"sdpa": AttentionBackendName.NATIVE, "sage": AttentionBackendName.SAGE}
SAGE_MIN_CAPABILITY = (8, 0)
SAGE_MAX_HEAD_DIM = 128


def sage_blocker(
    *,
    cuda: bool,
    capability: tuple[int, int] | None,
    package: bool,
    dtype: torch.dtype,
    head_dim: int,
) -> str | None:
    """Why SageAttention cannot run in these conditions, or None when it can."""
    if not cuda:
        return "no CUDA device is available (SageAttention runs on NVIDIA GPUs only)"
    if capability is not None and tuple(capability) < SAGE_MIN_CAPABILITY:
        return f"the GPU has compute capability {capability[0]}.{capability[1]}; SageAttention needs 8.0 (Ampere) or newer"
    if not package:
        return "the sageattention package (>= 2.1.1) is not installed or failed to import"
    if dtype not in (torch.float16, torch.bfloat16):
        return f"the model computes in {str(dtype).removeprefix('torch.')}; SageAttention needs fp16 or bf16"
    if head_dim > SAGE_MAX_HEAD_DIM:
        return f"head dim {head_dim} is not supported (SageAttention handles up to {SAGE_MAX_HEAD_DIM})"
    return None


def compute_dtype(transformer: torch.nn.Module) -> torch.dtype:
    """The dtype attention runs in: the patch embedding's (it stays in compute dtype under fp8 storage)."""
    patch = getattr(transformer, "patch_embedding", None)
    if patch is not None:
        return patch.weight.dtype
    return next(transformer.parameters()).dtype


def _head_dim(transformer: torch.nn.Module) -> int:
    config = getattr(transformer, "config", None)
    if config is not None and hasattr(config, "attention_head_dim"):
        return int(config.attention_head_dim)
    for module in transformer.modules():
        if isinstance(module, AttentionModuleMixin) and hasattr(module, "heads") and hasattr(module, "inner_dim"):
            return module.inner_dim // module.heads
    return 0


def _probe_sage(dtype: torch.dtype, head_dim: int) -> str | None:
    """Run one tiny attention call, so a kernel that does not support this GPU fails here and not mid-run."""
    try:
        q, k, v = (torch.randn(1, 64, 1, head_dim, device="cuda", dtype=dtype) for _ in range(3))
        out = dispatch_attention_fn(q, k, v, backend=AttentionBackendName.SAGE)
        if not torch.isfinite(out).all():
            return "SageAttention returned non-finite values on a test call"
    except Exception as exc:  # noqa: BLE001 - any failure means: do not use it
        return f"SageAttention failed a test call ({type(exc).__name__}: {exc})"
    return None


def sage_reason(dtype: torch.dtype, head_dim: int) -> str | None:
    """Why SageAttention cannot run here for this dtype and head dim, or None when it can."""
    cuda = torch.cuda.is_available()
    reason = sage_blocker(
        cuda=cuda,
        capability=torch.cuda.get_device_capability() if cuda else None,
        package=bool(getattr(attention_dispatch, "_CAN_USE_SAGE_ATTN", False)),
        dtype=dtype,
        head_dim=head_dim,
    )
    return reason or _probe_sage(dtype, head_dim)


def sage_unavailable_reason(transformer: torch.nn.Module) -> str | None:
    """Why SageAttention cannot run this model here, or None when it can."""
    return sage_reason(compute_dtype(transformer), _head_dim(transformer))


def _set_backend(transformer: torch.nn.Module, backend: AttentionBackendName) -> None:
    for module in transformer.modules():
        processor = getattr(module, "processor", None)
        if isinstance(module, AttentionModuleMixin) and processor is not None and hasattr(processor, "_attention_backend"):
            processor._attention_backend = backend


def activate(transformer: torch.nn.Module, requested: str) -> tuple[str, str | None]:
    """Switch the model to `requested` ("auto" | "sdpa" | "sage").

    Returns (backend used, reason it is not the one asked for or None). "auto"
    takes SageAttention when it can run, else SDPA. Asking for "sage" where it
    cannot run falls back to SDPA with one warning; it never raises for that.
    """
    if requested not in BACKENDS:
        raise ParameterError(f"attention backend must be one of {BACKENDS}, got {requested!r}.")
    chosen, reason = "sdpa", None
    if requested in ("auto", "sage"):
        reason = sage_unavailable_reason(transformer)
        if reason is None:
            chosen = "sage"
        elif requested == "sage":
            logger.warning("SageAttention was requested but cannot be used: %s. Using PyTorch SDPA instead.", reason)
        else:
            logger.info("Attention: using PyTorch SDPA (SageAttention unavailable: %s).", reason)
    _set_backend(transformer, _DIFFUSERS_BACKENDS[chosen])
    return chosen, reason


def restore(transformer: torch.nn.Module) -> None:
    """Put the model back on PyTorch SDPA."""
    _set_backend(transformer, _DIFFUSERS_BACKENDS["sdpa"])


def current_backend(transformer: torch.nn.Module) -> str:
    """"sage" when any attention processor of the model uses SageAttention, else "sdpa"."""
    for module in transformer.modules():
        processor = getattr(module, "processor", None)
        if isinstance(module, AttentionModuleMixin) and getattr(processor, "_attention_backend", None) == AttentionBackendName.SAGE:
            return "sage"
    return "sdpa"

"""Where the transformer's weights live between and during runs.

- "none":   on the compute device all the time.
- "model":  in CPU memory; `on_device` moves the whole model to the compute
            device for a sampling run and back afterwards (the official
            `offload_model=True` behaviour).
- "blocks": diffusers group offloading, one transformer block per group: each
            block is copied to the device right before it runs and back after,
            overlapped with compute through a CUDA stream on GPUs. Needs about
            one block of device memory instead of the whole model.

On a CPU-only machine every mode works and computes the same numbers.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from diffusers.hooks import apply_group_offloading

from .. import host
from ..errors import ParameterError

logger = logging.getLogger(__name__)

OFFLOAD_MODES = ("none", "model", "blocks")

# Mode per model object, without adding attributes to the model.
_modes: weakref.WeakKeyDictionary[torch.nn.Module, str] = weakref.WeakKeyDictionary()


def offload_mode(transformer: torch.nn.Module) -> str:
    return _modes.get(transformer, "none")


def apply_offload(transformer: torch.nn.Module, mode: str, device: torch.device) -> None:
    """Place the transformer for `mode` (call once, after loading and after `fp8.apply_fp8`)."""
    if mode not in OFFLOAD_MODES:
        raise ParameterError(f"offload must be one of {OFFLOAD_MODES}, got {mode!r}.")
    device = torch.device(device)
    current = offload_mode(transformer)
    if current == "blocks":
        if mode != "blocks":
            raise ParameterError("This model already uses block offloading; load it again to change the offload mode.")
        return
    if mode == "none":
        transformer.to(device)
    elif mode == "model":
        transformer.to(host.offload_device())
    else:
        transformer.to(host.offload_device())
        apply_group_offloading(
            transformer,
            onload_device=device,
            offload_device=host.offload_device(),
            offload_type="block_level",
            num_blocks_per_group=1,
            use_stream=device.type == "cuda",
        )
    _modes[transformer] = mode
    logger.info("%s offload: %s (compute device %s).", type(transformer).__name__, mode, device)


@contextmanager
def on_device(transformer: torch.nn.Module, device: torch.device) -> Iterator[None]:
    """For "model" offload, keep the model on `device` inside the block; no-op for other modes."""
    if offload_mode(transformer) != "model":
        yield
        return
    device = torch.device(device)
    transformer.to(device)
    try:
        yield
    finally:
        transformer.to(host.offload_device())
        if device.type != "cpu":
            host.soft_empty_cache()

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

Models that run once per prompt (the text encoder) can leave "model" offload for
good with `stay_if_room`: when the card has memory to spare they stay on it, and
later prompts skip the copy from RAM.
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
        host.load_to_device(transformer, device)  # in ComfyUI: room made first, then managed by it
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


# Stay on the card only if this share of its memory is still free afterwards: the
# transformer (16-33 GB for 14B) and the VAE still need room on 24-48 GB cards.
RESIDENT_FREE_SHARE = 0.6


def memory_info(device: torch.device) -> tuple[int, int] | None:
    """(free, total) bytes on a CUDA device; None elsewhere (nothing to share)."""
    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    return torch.cuda.mem_get_info(device)


def stay_if_room(module: torch.nn.Module, device: torch.device) -> bool:
    """For "model" offload: move `module` to `device` for good when, after that, at least
    RESIDENT_FREE_SHARE of the device's memory is still free. Returns whether it stays there.
    Without a device memory to share (CPU) the module is where it runs already."""
    if offload_mode(module) != "model":
        return offload_mode(module) == "none"
    info = memory_info(device)
    if info is None:
        return False
    free, total = info
    size = sum(t.numel() * t.element_size() for t in (*module.parameters(), *module.buffers()))
    if free - size < RESIDENT_FREE_SHARE * total:
        return False
    host.load_to_device(module, device)
    _modes[module] = "none"
    logger.info("%s stays on %s (%.1f GB; %.1f of %.1f GB were free).", type(module).__name__, device, size / 1e9, free / 1e9, total / 1e9)
    return True


@contextmanager
def on_device(transformer: torch.nn.Module, device: torch.device) -> Iterator[None]:
    """For "model" offload, keep the model on `device` inside the block; no-op for other modes."""
    mode = offload_mode(transformer)
    device = torch.device(device)
    if mode != "model":
        if mode == "none":
            host.ensure_on_device(transformer, device)  # ComfyUI may have unloaded it since
        else:
            host.make_room(_streamed_bytes(transformer), device)
        yield
        return
    host.load_to_device(transformer, device)
    try:
        yield
    finally:
        host.unload_from_device(transformer)
        if device.type != "cpu":
            host.soft_empty_cache()


def _streamed_bytes(transformer: torch.nn.Module) -> int:
    """Device memory that block offload needs: the parts outside the blocks plus two blocks (one prefetched)."""

    def size(module: torch.nn.Module) -> int:
        return sum(t.numel() * t.element_size() for t in (*module.parameters(), *module.buffers()))

    blocks = [size(block) for block in getattr(transformer, "blocks", [])]
    return size(transformer) - sum(blocks) + 2 * max(blocks, default=0)

"""Regional torch.compile: only the transformer's repeated blocks are compiled.

The 40 WAN blocks share one class, so compiling each block (rather than the whole
model) gives about the same speed for a fraction of the compile time: the blocks
share one compiled graph. WanI2VCompile records `CompileSettings` in the model's
options; `compiled` wraps the blocks for one sampling run, with diffusers'
`compile_repeated_blocks` when the model has it, else `block.compile()` on each
block, and unwraps them afterwards. The wrapped callables are kept, so the next
run with the same settings reuses them instead of compiling again, and a model
without the option runs eagerly as before.

`fullgraph` stays off: the cache hooks (TeaCache, MagCache, FirstBlockCache) break
graphs on purpose. Only CUDA GPUs are supported (inductor with triton).
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import ModelFormatError, ParameterError

MODES = ("default", "max-autotune-no-cudagraphs")


@dataclass(frozen=True)
class CompileSettings:
    """WAN_MODEL option `compile`: the torch.compile mode for the blocks."""

    mode: str = "default"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ParameterError(f"compile mode must be one of {', '.join(MODES)}, got {self.mode!r}.")

    def kwargs(self) -> dict[str, Any]:
        return {"mode": self.mode, "fullgraph": False}


def check_can_compile(device: torch.device) -> None:
    """Raise a clear error where compiling cannot work: not a CUDA device, or triton missing."""
    if device.type != "cuda":
        raise ParameterError(
            f"Compiling the transformer blocks (torch.compile) needs an NVIDIA GPU with CUDA; this machine computes "
            f"on {device.type}. Turn compile off to run here: set the WanI2VCompile node's enabled to false or remove "
            "the node (in a released workflow: compile=false)."
        )
    if not _has_triton():
        raise ParameterError(
            "torch.compile on the GPU needs the triton package, which is not installed. Install it "
            "(`pip install triton`; on Windows `pip install triton-windows`) or turn compile off."
        )


def _has_triton() -> bool:
    return importlib.util.find_spec("triton") is not None


def repeated_blocks(transformer: torch.nn.Module) -> list[torch.nn.Module]:
    """The modules to compile: those of the model's `_repeated_blocks` classes, else `transformer.blocks`."""
    names = tuple(getattr(transformer, "_repeated_blocks", None) or ())
    blocks = [m for m in transformer.modules() if type(m).__name__ in names]
    if not blocks and isinstance(getattr(transformer, "blocks", None), torch.nn.ModuleList):
        blocks = list(transformer.blocks)
    if not blocks:
        raise ModelFormatError(f"Found no transformer blocks to compile in {type(transformer).__name__}.")
    return blocks


# Each block keeps (settings, its compiled callable) in this attribute between runs. On the block, not
# in a table keyed by it: the callable holds the block, so a table would keep every compiled model alive.
_KEPT = "_wan_i2v_compiled"


def _kept(block: torch.nn.Module) -> tuple[CompileSettings, Callable] | None:
    return block.__dict__.get(_KEPT)


def _compile(transformer: torch.nn.Module, blocks: list[torch.nn.Module], settings: CompileSettings) -> None:
    if getattr(transformer, "_repeated_blocks", None) and hasattr(transformer, "compile_repeated_blocks"):
        transformer.compile_repeated_blocks(**settings.kwargs())
    else:
        for block in blocks:
            block.compile(**settings.kwargs())


@contextlib.contextmanager
def compiled(transformer: torch.nn.Module, settings: CompileSettings | None, stats: dict[str, Any]) -> Iterator[None]:
    """Run with the repeated blocks compiled (no-op without settings)."""
    if settings is None:
        yield
        return
    blocks = repeated_blocks(transformer)
    if all((_kept(block) or (None,))[0] == settings for block in blocks):
        for block in blocks:
            # `Module.compile` stores its wrapper here; putting a kept one back reuses its compiled code.
            block._compiled_call_impl = _kept(block)[1]
    else:
        _compile(transformer, blocks, settings)
        for block in blocks:
            block.__dict__[_KEPT] = (settings, block._compiled_call_impl)
    stats["compile"] = {"mode": settings.mode, "blocks": len(blocks)}
    try:
        yield
    finally:
        for block in blocks:
            block._compiled_call_impl = None

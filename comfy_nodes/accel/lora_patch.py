"""Putting a chain of LoRAs on the transformer for a sampling run, and taking it off.

The LoRA node never changes the model it is given: it returns a copy of the
WAN_MODEL record whose options carry the chain (`options["loras"]`, a tuple of
`LoraPatch`). The sampler calls `sync` before every run; it brings the shared
transformer to exactly that chain:

- if the chain is the one already applied, nothing happens (no per-run cost);
- otherwise the previous chain is removed (every changed tensor restored from
  its saved copy, bit for bit; every adapter hook removed) and the new one applied.

How a module gets its change:
- "fused" (weights in bf16/fp16/fp32): W <- W + sum(strength * B @ A), computed in
  fp32 and rounded once to the stored dtype; no cost per step;
- "adapter" (fp8 weights, scaled fp8 layers, block offloading): the weights stay as
  they are and a forward hook adds strength * B(A(x)) in the compute dtype. fp8
  weights cannot be fused exactly, and measured on the CPU the bf16 adapter is
  closer to the exact result than requantising W + BA with a fresh scale
  (docs/benchmarks.md, "LoRA over FP8 weights").
Full deltas (`.diff`, biases, modulation) are added to their parameter.
A strength of 0 leaves the model untouched.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass, field

import torch

from ..models.lora import LoraWeights
from . import offload
from .fp8 import FP8_DTYPES, ScaledFP8Linear

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoraPatch:
    """One link of a LoRA chain: converted weights and a strength."""

    lora: LoraWeights
    strength: float

    @property
    def key(self) -> tuple[str, float]:
        return (self.lora.fingerprint, float(self.strength))


@dataclass
class _Applied:
    chain: tuple[tuple[str, float], ...] = ()
    backups: dict[str, torch.Tensor] = field(default_factory=dict)  # parameter name -> original values (CPU)
    hooks: list[torch.utils.hooks.RemovableHandle] = field(default_factory=list)
    modes: dict[str, int] = field(default_factory=dict)  # "fused"/"adapter"/"full" -> count


_applied: weakref.WeakKeyDictionary[torch.nn.Module, _Applied] = weakref.WeakKeyDictionary()


def applied_chain(transformer: torch.nn.Module) -> tuple[tuple[str, float], ...]:
    state = _applied.get(transformer)
    return state.chain if state else ()


def sync(transformer: torch.nn.Module, patches: tuple[LoraPatch, ...] | list[LoraPatch]) -> dict[str, int]:
    """Make `transformer` carry exactly `patches` (in order); returns counts per mode."""
    active = tuple(p for p in patches if p.strength != 0.0)
    chain = tuple(p.key for p in active)
    state = _applied.get(transformer)
    if state is not None and state.chain == chain:
        return dict(state.modes)
    remove(transformer)
    if not active:
        return {}
    state = _Applied(chain=chain)
    _applied[transformer] = state
    try:
        _apply(transformer, active, state)
    except BaseException:
        remove(transformer)
        raise
    logger.info("LoRA chain applied: %s (%s).", ", ".join(f"{p.lora.name}@{p.strength:g}" for p in active), state.modes)
    return dict(state.modes)


@torch.no_grad()
def remove(transformer: torch.nn.Module) -> None:
    """Restore the transformer's own weights and drop every adapter."""
    state = _applied.pop(transformer, None)
    if state is None:
        return
    for handle in state.hooks:
        handle.remove()
    for name, original in state.backups.items():
        param = transformer.get_parameter(name)
        param.data.copy_(original.to(param.device))


def _needs_adapter(module: torch.nn.Module, blocks_offloaded: bool) -> bool:
    weight = getattr(module, "weight", None)
    return blocks_offloaded or isinstance(module, ScaledFP8Linear) or (weight is not None and weight.dtype in FP8_DTYPES)


@torch.no_grad()
def _apply(transformer: torch.nn.Module, patches: tuple[LoraPatch, ...], state: _Applied) -> None:
    blocks_offloaded = offload.offload_mode(transformer) == "blocks"
    low_rank: dict[str, list[tuple[torch.Tensor, torch.Tensor, float]]] = {}
    full: dict[str, list[tuple[torch.Tensor, float]]] = {}
    for patch in patches:
        for module, (down, up) in patch.lora.low_rank.items():
            low_rank.setdefault(module, []).append((down, up, patch.strength))
        for name, delta in patch.lora.full.items():
            full.setdefault(name, []).append((delta, patch.strength))

    for module_name, terms in low_rank.items():
        module = transformer.get_submodule(module_name)
        if _needs_adapter(module, blocks_offloaded):
            state.hooks.append(module.register_forward_hook(_Adapter(terms)))
            state.modes["adapter"] = state.modes.get("adapter", 0) + 1
        else:
            param = module.weight
            delta = sum(s * (up.to(param.device, torch.float32) @ down.to(param.device, torch.float32)) for down, up, s in terms)
            _add(transformer, state, module_name + ".weight", delta)
            state.modes["fused"] = state.modes.get("fused", 0) + 1
    for name, terms in full.items():
        param = transformer.get_parameter(name)
        _add(transformer, state, name, sum(s * d.to(param.device, torch.float32) for d, s in terms))
        state.modes["full"] = state.modes.get("full", 0) + 1


def _add(transformer: torch.nn.Module, state: _Applied, name: str, delta: torch.Tensor) -> None:
    """param <- param + delta, in fp32 and rounded once; the original is kept for `remove`."""
    param = transformer.get_parameter(name)
    if name not in state.backups:
        state.backups[name] = param.data.to("cpu", copy=True)
    param.data.copy_((param.data.to(torch.float32) + delta).to(param.dtype))


class _Adapter:
    """Forward hook: output + sum(strength * B(A(x))) in the input's dtype."""

    def __init__(self, terms: list[tuple[torch.Tensor, torch.Tensor, float]]) -> None:
        self.terms = terms
        self._cast: dict[tuple[torch.device, torch.dtype], list[tuple[torch.Tensor, torch.Tensor, float]]] = {}

    def _for(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor, float]]:
        key = (x.device, x.dtype)
        if key not in self._cast:
            self._cast[key] = [(d.to(x.device, x.dtype), u.to(x.device, x.dtype), s) for d, u, s in self.terms]
        return self._cast[key]

    def __call__(self, module: torch.nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
        x = args[0]
        for down, up, strength in self._for(x):
            output = output + strength * torch.nn.functional.linear(torch.nn.functional.linear(x, down), up)
        return output

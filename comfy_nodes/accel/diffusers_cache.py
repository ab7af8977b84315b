"""MagCache and FirstBlockCache for the WAN transformer, through diffusers' own hooks.

Both are diffusers configs (`MagCacheConfig`, `FirstBlockCacheConfig`) attached with
the model's `enable_cache` for one sampling run and removed with `disable_cache`.
The sampler wraps every pass in `cache_context("cond" | "uncond")`, so the two CFG
branches keep separate state, as they do in diffusers' own WAN pipeline.

- MagCache skips the blocks while the accumulated error predicted by the model's
  magnitude ratios (residual norm of step t over step t-1) stays under the threshold,
  at most K steps in a row, never in the first `retention_ratio` of the steps. The
  WAN 2.1 I2V 480P/720P ratios and the recommended settings (threshold 0.24, K 6,
  retention 0.2, 40 steps) are those published with MagCache; diffusers ships none
  for WAN. The published lists interleave cond and uncond; the cond values are used
  (nearest-interpolated by diffusers to other step counts).
- FirstBlockCache always runs the first block and skips the others while its
  residual changed less than the threshold (relative mean absolute difference).

Skipped passes are counted per branch by a forward hook on the transformer that
reads the leader hook's decision, in the same shape as TeaCache's report.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import ParameterError

KINDS = ("magcache", "fbc")
RATIO_PRESETS = ("auto", "480p", "720p")

# MagCache for Wan 2.1 (Zehong-Ma/MagCache, MagCache4Wan2.1/magcache_generate.py): I2V-14B
# magnitude ratios for 40 steps, interleaved cond/uncond, the first pair padded with 1.0.
_I2V_480P = (
    1.0, 1.0, 0.98783, 0.98993, 0.97559, 0.97593, 0.98311, 0.98319, 0.98202, 0.98225, 0.9888, 0.98878, 0.98762,
    0.98759, 0.98957, 0.98971, 0.99052, 0.99043, 0.99383, 0.99384, 0.98857, 0.9886, 0.99065, 0.99068, 0.98845,
    0.98847, 0.99057, 0.99057, 0.98957, 0.98961, 0.98601, 0.9861, 0.98823, 0.98823, 0.98756, 0.98759, 0.98808,
    0.98814, 0.98721, 0.98724, 0.98571, 0.98572, 0.98543, 0.98544, 0.98157, 0.98165, 0.98411, 0.98413, 0.97952,
    0.97953, 0.98149, 0.9815, 0.9774, 0.97742, 0.97825, 0.97826, 0.97355, 0.97361, 0.97085, 0.97087, 0.97056,
    0.97055, 0.96588, 0.96587, 0.96113, 0.96124, 0.9567, 0.95681, 0.94961, 0.94969, 0.93973, 0.93988, 0.93217,
    0.93224, 0.91878, 0.91896, 0.90955, 0.90954, 0.92617, 0.92616,
)  # fmt: skip
_I2V_720P = (
    1.0, 1.0, 0.99428, 0.99498, 0.98588, 0.98621, 0.98273, 0.98281, 0.99018, 0.99023, 0.98911, 0.98917, 0.98646,
    0.98652, 0.99454, 0.99456, 0.9891, 0.98909, 0.99124, 0.99127, 0.99102, 0.99103, 0.99215, 0.99212, 0.99515,
    0.99515, 0.99576, 0.99572, 0.99068, 0.99072, 0.99097, 0.99097, 0.99166, 0.99169, 0.99041, 0.99042, 0.99201,
    0.99198, 0.99101, 0.99101, 0.98599, 0.98603, 0.98845, 0.98844, 0.98848, 0.98851, 0.98862, 0.98857, 0.98718,
    0.98719, 0.98497, 0.98497, 0.98264, 0.98263, 0.98389, 0.98393, 0.97938, 0.9794, 0.97535, 0.97536, 0.97498,
    0.97499, 0.973, 0.97301, 0.96827, 0.96828, 0.96261, 0.96263, 0.95335, 0.9534, 0.94649, 0.94655, 0.93397,
    0.93414, 0.91636, 0.9165, 0.89088, 0.89109, 0.8679, 0.86768,
)  # fmt: skip
MAG_RATIOS: dict[str, tuple[float, ...]] = {"480p": _I2V_480P[0::2], "720p": _I2V_720P[0::2]}  # cond branch
MAGCACHE_DEFAULTS = {"threshold": 0.24, "max_skip_steps": 6, "retention_ratio": 0.2}
FBC_DEFAULT_THRESHOLD = 0.05  # diffusers' default


@dataclass(frozen=True)
class CacheSettings:
    """WAN_MODEL option `cache`: which diffusers cache and its settings (threshold 0 = off)."""

    kind: str
    threshold: float
    max_skip_steps: int = MAGCACHE_DEFAULTS["max_skip_steps"]
    retention_ratio: float = MAGCACHE_DEFAULTS["retention_ratio"]
    ratios: str = "auto"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ParameterError(f"cache kind must be one of {KINDS}, got {self.kind!r}.")
        if not 0.0 <= self.threshold <= 10.0:
            raise ParameterError(f"{self.label} threshold must be between 0 and 10, got {self.threshold}.")
        if self.max_skip_steps < 1:
            raise ParameterError(f"MagCache max_skip_steps (K) must be at least 1, got {self.max_skip_steps}.")
        if not 0.0 <= self.retention_ratio <= 1.0:
            raise ParameterError(f"MagCache retention_ratio must be between 0 and 1, got {self.retention_ratio}.")
        if self.ratios not in RATIO_PRESETS:
            raise ParameterError(f"MagCache ratios must be one of {RATIO_PRESETS}, got {self.ratios!r}.")

    @property
    def label(self) -> str:
        return {"magcache": "MagCache", "fbc": "FirstBlockCache"}[self.kind]

    @property
    def enabled(self) -> bool:
        return self.threshold > 0.0

    def describe(self) -> dict[str, Any]:
        if self.kind == "fbc":
            return {"kind": "fbc", "threshold": self.threshold}
        return {
            "kind": "magcache", "threshold": self.threshold, "max_skip_steps": self.max_skip_steps,
            "retention_ratio": self.retention_ratio, "ratios": self.ratios,
        }  # fmt: skip

    def config(self, num_steps: int, resolution_class: str | None) -> Any:
        """The diffusers config for a run of `num_steps` steps."""
        from diffusers import FirstBlockCacheConfig, MagCacheConfig

        if self.kind == "fbc":
            return FirstBlockCacheConfig(threshold=self.threshold)
        preset = self.ratios if self.ratios != "auto" else (resolution_class or "480p")
        return MagCacheConfig(
            threshold=self.threshold,
            max_skip_steps=self.max_skip_steps,
            retention_ratio=self.retention_ratio,
            num_inference_steps=num_steps,
            mag_ratios=torch.tensor(MAG_RATIOS[preset]),
        )


_LEADER_HOOKS = {"magcache": "mag_cache_leader_block_hook", "fbc": "fbc_leader_block_hook"}


class _PassCounter:
    """Forward hook on the transformer: after each pass, whether the leader hook computed the blocks."""

    def __init__(self, transformer: torch.nn.Module, kind: str) -> None:
        from diffusers.hooks import HookRegistry

        self.leader = HookRegistry.check_if_exists_or_initialize(transformer.blocks[0]).get_hook(_LEADER_HOOKS[kind])
        self.counts: dict[str, dict[str, int]] = {}

    def __call__(self, module: torch.nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        manager = self.leader.state_manager
        name = manager._context.name if manager._context is not None else "default"
        entry = self.counts.setdefault(name, {"computed": 0, "skipped": 0})
        entry["computed" if manager.get_state().should_compute else "skipped"] += 1


_runs: weakref.WeakKeyDictionary[torch.nn.Module, tuple[_PassCounter, Any]] = weakref.WeakKeyDictionary()


def apply(transformer: torch.nn.Module, settings: CacheSettings, num_steps: int, resolution_class: str | None = None) -> None:
    """Attach the cache for one run (no-op when its threshold is 0)."""
    if not settings.enabled:
        return
    if getattr(transformer, "is_cache_enabled", False):
        raise ParameterError("The transformer already has a diffusers cache attached; one cache per model.")
    transformer.enable_cache(settings.config(num_steps, resolution_class))
    counter = _PassCounter(transformer, settings.kind)
    _runs[transformer] = (counter, transformer.register_forward_hook(counter, with_kwargs=True))


def stats(transformer: torch.nn.Module) -> dict[str, dict[str, int]]:
    """Passes computed and skipped per branch in this run ({} when no cache ran)."""
    run = _runs.get(transformer)
    return {name: dict(entry) for name, entry in run[0].counts.items()} if run else {}


def remove(transformer: torch.nn.Module) -> None:
    run = _runs.pop(transformer, None)
    if run is None:
        return
    run[1].remove()
    transformer.disable_cache()

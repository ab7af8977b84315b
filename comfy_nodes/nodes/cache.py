"""Cache nodes from diffusers: MagCache and FirstBlockCache (one per model)."""

from __future__ import annotations

import dataclasses

from ..accel.diffusers_cache import FBC_DEFAULT_THRESHOLD, MAGCACHE_DEFAULTS, RATIO_PRESETS, CacheSettings
from ..errors import ParameterError
from ..pipeline.types import WanModel

CATEGORY = "WAN I2V/acceleration"
_MODEL_INPUT = ("WAN_MODEL", {"tooltip": "From WanI2VModelLoader, a LoRA loader or the attention node."})
_RETURN_TIP = ("The model with this cache set for the sampler (the input model is left unchanged).",)


def _with_cache(model: WanModel, settings: CacheSettings) -> tuple[WanModel]:
    existing = model.options.get("cache")
    if existing is not None:
        raise ParameterError(
            f"This model already has {existing.label} from another cache node; one cache per model. "
            f"Remove one of the cache nodes (or TeaCache) before adding {settings.label}."
        )
    return (dataclasses.replace(model, options={**model.options, "cache": settings}),)


class WanI2VMagCache:
    """MagCache: skips the transformer blocks on steps whose residual magnitude is predicted to barely change."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "model": _MODEL_INPUT,
                "threshold": (
                    "FLOAT",
                    {
                        "default": MAGCACHE_DEFAULTS["threshold"], "min": 0.0, "max": 2.0, "step": 0.01,
                        "tooltip": "Accumulated error allowed before the blocks run again; 0 turns MagCache off. "
                        "Published for WAN 2.1 I2V: 0.24 (with K 6, retention 0.2, 40 steps). Higher is faster, less exact.",
                    },
                ),
                "max_skip_steps": (
                    "INT",
                    {"default": MAGCACHE_DEFAULTS["max_skip_steps"], "min": 1, "max": 40,
                     "tooltip": "K: at most this many steps in a row are skipped (published: 6)."},
                ),
                "retention_ratio": (
                    "FLOAT",
                    {"default": MAGCACHE_DEFAULTS["retention_ratio"], "min": 0.0, "max": 1.0, "step": 0.01,
                     "tooltip": "This share of the first steps is always computed (published: 0.2)."},
                ),
                "ratios": (
                    list(RATIO_PRESETS),
                    {"default": "auto",
                     "tooltip": "Magnitude ratios calibrated on WAN 2.1 I2V 480P or 720P; auto = from the model file name (480p when it says neither)."},
                ),
            },
        }  # fmt: skip

    RETURN_TYPES = ("WAN_MODEL",)
    RETURN_NAMES = ("model",)
    OUTPUT_TOOLTIPS = _RETURN_TIP
    FUNCTION = "apply"
    CATEGORY = CATEGORY
    DESCRIPTION = (
        "MagCache (diffusers hooks) with the WAN 2.1 I2V magnitude ratios: reuses the blocks' last residual on steps "
        "where it is predicted to change little; about 2-3x faster at 40 steps. Not for 4-step distilled runs. "
        "Use it instead of TeaCache, not with it."
    )

    def apply(
        self, model: WanModel, threshold: float = 0.24, max_skip_steps: int = 6, retention_ratio: float = 0.2, ratios: str = "auto"
    ) -> tuple[WanModel]:
        settings = CacheSettings("magcache", threshold, max_skip_steps=max_skip_steps, retention_ratio=retention_ratio, ratios=ratios)
        return _with_cache(model, settings)


class WanI2VFirstBlockCache:
    """FirstBlockCache: runs the first block, skips the rest while its output barely changed."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "model": _MODEL_INPUT,
                "threshold": (
                    "FLOAT",
                    {
                        "default": FBC_DEFAULT_THRESHOLD, "min": 0.0, "max": 1.0, "step": 0.005,
                        "tooltip": "Relative change of the first block's residual under which the other blocks are skipped; "
                        "0 turns it off. 0.05 is diffusers' default; higher is faster, less exact.",
                    },
                ),
            },
        }  # fmt: skip

    RETURN_TYPES = ("WAN_MODEL",)
    RETURN_NAMES = ("model",)
    OUTPUT_TOOLTIPS = _RETURN_TIP
    FUNCTION = "apply"
    CATEGORY = CATEGORY
    DESCRIPTION = (
        "First Block Cache (diffusers hooks): the first transformer block always runs; when its residual moved less "
        "than the threshold since the last computed step, the other blocks are skipped. Use instead of TeaCache or MagCache."
    )

    def apply(self, model: WanModel, threshold: float = FBC_DEFAULT_THRESHOLD) -> tuple[WanModel]:
        return _with_cache(model, CacheSettings("fbc", threshold))

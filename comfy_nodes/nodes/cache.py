"""Cache nodes: MagCache and FirstBlockCache from diffusers, and WanI2VCache, which picks one
of TeaCache, MagCache and FirstBlockCache by name (one cache per model)."""

from __future__ import annotations

import dataclasses

from ..accel import teacache
from ..accel.diffusers_cache import FBC_DEFAULT_THRESHOLD, MAGCACHE_DEFAULTS, RATIO_PRESETS, CacheSettings
from ..errors import ParameterError
from ..pipeline.types import WanModel

CATEGORY = "WAN I2V/acceleration"
_MODEL_INPUT = ("WAN_MODEL", {"tooltip": "From WanI2VModelLoader, a LoRA loader or the attention node."})
_RETURN_TIP = ("The model with this cache set for the sampler (the input model is left unchanged).",)


def _cache_label(model: WanModel) -> str | None:
    """The cache a cache node already set on this model, if any."""
    if model.options.get("teacache") is not None:
        return "TeaCache"
    existing = model.options.get("cache")
    return existing.label if existing is not None else None


def _with_cache(model: WanModel, settings: CacheSettings | teacache.TeaCacheSettings) -> tuple[WanModel]:
    is_tea = isinstance(settings, teacache.TeaCacheSettings)
    label = "TeaCache" if is_tea else settings.label
    existing = _cache_label(model)
    if existing is not None:
        raise ParameterError(
            f"This model already has {existing} from another cache node; one cache per model. "
            f"Remove one of the cache nodes (or TeaCache) before adding {label}."
        )
    key = "teacache" if is_tea else "cache"
    return (dataclasses.replace(model, options={**model.options, key: settings}),)


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


CACHES = ("none", "teacache", "magcache", "fbc")
RESOLUTIONS = ("auto", "480p", "720p")
# What threshold 0 stands for: the values published for WAN 2.1 I2V (TeaCache: ComfyUI-TeaCache's
# recommendations per resolution; MagCache: its WAN 2.1 scripts; FirstBlockCache: diffusers' default).
TEACACHE_DEFAULTS = {"480p": 0.26, "720p": 0.25}
DEFAULT_THRESHOLDS = {"magcache": MAGCACHE_DEFAULTS["threshold"], "fbc": FBC_DEFAULT_THRESHOLD}
MAX_THRESHOLD = 2.0


def default_threshold(cache: str, resolution_class: str | None) -> float:
    """The published threshold for `cache` at a resolution class ('480p' when unknown)."""
    if cache == "teacache":
        return TEACACHE_DEFAULTS["720p" if resolution_class == "720p" else "480p"]
    return DEFAULT_THRESHOLDS[cache]


class WanI2VCache:
    """One cache by name (TeaCache, MagCache or FirstBlockCache), with its published settings."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "model": _MODEL_INPUT,
                "cache": (
                    list(CACHES),
                    {"default": "magcache",
                     "tooltip": "none: every step computed. teacache: skips on timestep-embedding change. "
                     "magcache: skips on predicted residual magnitude (WAN 2.1 I2V ratios). "
                     "fbc: First Block Cache, skips while the first block's output barely changes."},
                ),
                "threshold": (
                    "FLOAT",
                    {"default": 0.0, "min": 0.0, "max": MAX_THRESHOLD, "step": 0.01,
                     "tooltip": "0 = the published value for the chosen cache: TeaCache 0.26 (480p) / 0.25 (720p), "
                     "MagCache 0.24, FirstBlockCache 0.05. Higher skips more steps: faster, less exact."},
                ),
                "resolution": (
                    list(RESOLUTIONS),
                    {"default": "auto",
                     "tooltip": "Which 480P/720P calibration (TeaCache coefficients, MagCache ratios, TeaCache's default "
                     "threshold) to use; auto = from the model file name (TeaCache: else from the video size; "
                     "MagCache: else 480p)."},
                ),
            },
        }  # fmt: skip

    RETURN_TYPES = ("WAN_MODEL",)
    RETURN_NAMES = ("model",)
    OUTPUT_TOOLTIPS = _RETURN_TIP
    FUNCTION = "apply"
    CATEGORY = CATEGORY
    DESCRIPTION = (
        "Picks one step cache for the sampler: TeaCache, MagCache or First Block Cache, each with its published "
        "WAN 2.1 I2V settings (threshold 0), or none. For finer control use the WanI2VTeaCache, WanI2VMagCache or "
        "WanI2VFirstBlockCache node instead; one cache per model."
    )

    def apply(self, model: WanModel, cache: str = "magcache", threshold: float = 0.0, resolution: str = "auto") -> tuple[WanModel]:
        if cache not in CACHES:
            raise ParameterError(f"cache must be one of {', '.join(CACHES)}, got {cache!r}.")
        if resolution not in RESOLUTIONS:
            raise ParameterError(f"cache resolution must be one of {', '.join(RESOLUTIONS)}, got {resolution!r}.")
        if not 0.0 <= threshold <= MAX_THRESHOLD:
            raise ParameterError(
                f"cache threshold must be between 0 and {MAX_THRESHOLD:g}, got {threshold}; "
                "use 0 for the chosen cache's published value."
            )
        if cache == "none":
            return (model,)
        resolution_class = resolution if resolution != "auto" else model.resolution_class
        value = threshold if threshold > 0.0 else default_threshold(cache, resolution_class)
        if cache == "teacache":
            return _with_cache(model, teacache.TeaCacheSettings(threshold=value, coefficients=resolution))
        ratios = resolution if cache == "magcache" else "auto"
        return _with_cache(model, CacheSettings(cache, value, ratios=ratios))

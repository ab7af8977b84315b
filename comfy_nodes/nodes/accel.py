"""Acceleration nodes: TeaCache settings, the attention backend and regional torch.compile."""

from __future__ import annotations

import dataclasses

from .. import host
from ..accel import attention, regional_compile, teacache
from ..errors import ParameterError
from ..pipeline.types import WanModel

CATEGORY = "WAN I2V/acceleration"


class WanI2VTeaCache:
    """TeaCache settings for the sampler: skip the transformer blocks on steps where the input barely changed."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "threshold": (
                    "FLOAT",
                    {
                        "default": 0.0,
                        "min": 0.0,
                        "max": 1.0,
                        "step": 0.01,
                        "tooltip": "How much accumulated change may be skipped; 0 turns TeaCache off. "
                        "Recommended: 0.26 for 480p, 0.25 for 720p, 0.30 with the _ret coefficients. "
                        "Higher is faster but loses detail and motion.",
                    },
                ),
                "start_step": (
                    "INT",
                    {
                        "default": 1,
                        "min": 0,
                        "max": 200,
                        "tooltip": "Steps before this one are always computed (the _ret coefficients always compute the first 5).",
                    },
                ),
                "end_percent": (
                    "FLOAT",
                    {
                        "default": 1.0,
                        "min": 0.0,
                        "max": 1.0,
                        "step": 0.01,
                        "tooltip": "Steps after this fraction of the run are always computed (1.0 = TeaCache until the end).",
                    },
                ),
                "coefficients": (
                    list(teacache.PRESETS),
                    {
                        "default": "auto",
                        "tooltip": "Model-specific rescaling polynomial. auto = 480p or 720p from the model name (or the video size). "
                        "_ret = retention mode: uses the 6-way timestep projection, computes the first 5 steps, may skip the last.",
                    },
                ),
                "cache_device": (
                    list(teacache.CACHE_DEVICES),
                    {
                        "default": "main",
                        "tooltip": "Where the cached residual is kept: main = the compute device (fastest); "
                        "cpu = system memory (saves GPU memory, one copy per skipped step).",
                    },
                ),
            },
            "optional": {
                "end_step": (
                    "INT",
                    {
                        "default": -1,
                        "min": -1,
                        "max": 200,
                        "tooltip": "Steps from this one on are always computed; -1 = use end_percent instead.",
                    },
                ),
            },
        }

    RETURN_TYPES = ("WAN_TEACACHE",)
    RETURN_NAMES = ("teacache",)
    OUTPUT_TOOLTIPS = ("TeaCache settings; connect to the sampler's teacache input.",)
    FUNCTION = "settings"
    CATEGORY = CATEGORY
    DESCRIPTION = (
        "TeaCache for WAN 2.1 I2V: reuses the transformer's last output change on steps where the timestep embedding "
        "barely moved, for roughly 1.5-2.5x faster sampling at some cost in detail. Connect to WanI2VSampler."
    )

    def settings(
        self,
        threshold: float = 0.0,
        start_step: int = 1,
        end_percent: float = 1.0,
        coefficients: str = "auto",
        cache_device: str = "main",
        end_step: int = -1,
    ) -> tuple[teacache.TeaCacheSettings]:
        return (
            teacache.TeaCacheSettings(
                threshold=threshold,
                start_step=start_step,
                end_step=end_step if end_step >= 0 else None,
                end_percent=end_percent,
                coefficients=coefficients,
                cache_device=cache_device,
            ),
        )


class WanI2VSageAttention:
    """Chooses the attention kernel the sampler uses for this model."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "model": ("WAN_MODEL", {"tooltip": "From WanI2VModelLoader."}),
                "backend": (
                    list(attention.BACKENDS),
                    {
                        "default": "auto",
                        "tooltip": "sage = SageAttention (quantised attention kernels, NVIDIA GPU with fp16/bf16, "
                        "package sageattention); sdpa = PyTorch's built-in attention; auto = sage when it can run, else sdpa. "
                        "If sage cannot run, the sampler falls back to sdpa and says why.",
                    },
                ),
            },
        }

    RETURN_TYPES = ("WAN_MODEL",)
    RETURN_NAMES = ("model",)
    OUTPUT_TOOLTIPS = ("The same model with the attention backend option set (the input is left unchanged).",)
    FUNCTION = "apply"
    CATEGORY = CATEGORY
    DESCRIPTION = (
        "Sets the attention backend (SageAttention or PyTorch SDPA) used when this model samples. "
        "SageAttention speeds up attention, which dominates at 480p/720p, with a small accuracy cost."
    )

    def apply(self, model: WanModel, backend: str = "auto") -> tuple[WanModel]:
        if backend not in attention.BACKENDS:
            raise ParameterError(f"backend must be one of {attention.BACKENDS}, got {backend!r}")
        return (dataclasses.replace(model, options={**model.options, "attention": backend}),)


class WanI2VCompile:
    """Compiles the transformer's repeated blocks with torch.compile for the sampler (CUDA GPUs)."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "model": ("WAN_MODEL", {"tooltip": "From WanI2VModelLoader, a LoRA loader, the attention or a cache node."}),
                "enabled": (
                    "BOOLEAN",
                    {"default": True, "tooltip": "Off passes the model through unchanged (and runs on any machine)."},
                ),
                "mode": (
                    list(regional_compile.MODES),
                    {"default": "default",
                     "tooltip": "torch.compile mode. max-autotune-no-cudagraphs searches for faster kernels: "
                     "a longer first run, sometimes a faster one."},
                ),
            },
        }  # fmt: skip

    RETURN_TYPES = ("WAN_MODEL",)
    RETURN_NAMES = ("model",)
    OUTPUT_TOOLTIPS = ("The model with compile set for the sampler (the input model is left unchanged).",)
    FUNCTION = "apply"
    CATEGORY = CATEGORY
    DESCRIPTION = (
        "Regional torch.compile: compiles only the 40 repeated transformer blocks (one shared graph), when the sampler "
        "runs. The first run pays the compile time, later runs at the same size are faster. NVIDIA GPU with triton "
        "only; on other machines it stops with an error unless disabled."
    )

    def apply(self, model: WanModel, enabled: bool = True, mode: str = "default") -> tuple[WanModel]:
        if not enabled:
            return (model,)
        settings = regional_compile.CompileSettings(mode)
        regional_compile.check_can_compile(host.get_device())
        return (dataclasses.replace(model, options={**model.options, "compile": settings}),)

"""The sampler and the VAE decode node."""

from __future__ import annotations

import torch

from ..accel import context_parallel, helper_ranks
from ..pipeline import decode, defaults, sampling
from ..pipeline.types import ImageEmbeds, Latent, TextEmbeds, Vae, WanModel

CATEGORY = "WAN I2V/sampling"


class WanI2VSampler:
    """Denoises the video latent with flow matching and classifier-free guidance."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "model": ("WAN_MODEL", {"tooltip": "From WanI2VModelLoader (or an acceleration node)."}),
                "text_embeds": ("WAN_TEXT_EMBEDS", {"tooltip": "From WanI2VTextEncode."}),
                "image_embeds": ("WAN_IMAGE_EMBEDS", {"tooltip": "From WanI2VImageEncode."}),
                "steps": ("INT", {"default": defaults.STEPS, "min": 1, "max": 200, "tooltip": "Denoising steps (official I2V: 40)."}),
                "cfg": (
                    "FLOAT",
                    {"default": defaults.CFG, "min": 0.0, "max": 20.0, "step": 0.1, "round": 0.01, "tooltip": "Guidance scale; 1.0 turns CFG off and halves the work (official: 5.0)."},
                ),
                "shift": (
                    "FLOAT",
                    {"default": defaults.SHIFT, "min": 0.0, "max": 20.0, "step": 0.1, "round": 0.01, "tooltip": "Flow-matching sigma shift (official: 3.0 at 480p, 5.0 at 720p)."},
                ),
                "seed": ("INT", {"default": 0, "min": 0, "max": 0xFFFFFFFFFFFFFFFF, "control_after_generate": True, "tooltip": "Noise seed; the same seed gives the same video."}),
                "scheduler": (sampling.SCHEDULERS, {"default": "unipc", "tooltip": "unipc: the official sampler (order 2, official timesteps). euler: first order, not an official setting. euler_simple: first order on the uniform grid the 4-step distillation LoRAs (lightx2v) expect."}),
            },
            "optional": {
                "teacache": ("WAN_TEACACHE", {"tooltip": "Optional TeaCache settings from WanI2VTeaCache."}),
            },
            # With WAN_I2V_CP_ULYSSES=N inside ComfyUI, helper ranks rebuild the model from the graph.
            "hidden": {"prompt": "PROMPT", "unique_id": "UNIQUE_ID"},
        }

    @classmethod
    def VALIDATE_INPUTS(cls, shift: float | None = None) -> bool | str:
        # Checked here (so ComfyUI skips its own range check for it): 0 is in the widget's range for
        # saved graphs, yet squeezes every sigma to 0.
        if shift is not None and not 0 < shift <= 20:
            return f"shift must be above 0 and at most 20; got {shift:g}. WAN 2.1 uses 3.0 at 480p and 5.0 at 720p."
        return True

    RETURN_TYPES = ("WAN_LATENT",)
    RETURN_NAMES = ("latent",)
    OUTPUT_TOOLTIPS = ("The denoised video latent.",)
    FUNCTION = "sample"
    CATEGORY = CATEGORY
    DESCRIPTION = "Samples a WAN 2.1 I2V video latent. Reports progress every step and stops between steps on interrupt."
    # Its transformer passes are split over the ranks of a multi-GPU server: every rank runs it and builds
    # its model; rank 0 alone runs the encoders, sends their embeddings, and runs what comes after
    # (orchestrator/executor/followers.py).
    SPLITS_PASSES = True
    BUILT_ON_EVERY_RANK = ("model",)

    def sample(
        self,
        model: WanModel,
        text_embeds: TextEmbeds,
        image_embeds: ImageEmbeds,
        steps: int = defaults.STEPS,
        cfg: float = defaults.CFG,
        shift: float = defaults.SHIFT,
        seed: int = 0,
        scheduler: str = "unipc",
        teacache: object | None = None,
        prompt: dict | None = None,
        unique_id: str | None = None,
    ) -> dict:
        settings = {"steps": steps, "cfg": cfg, "shift": shift, "seed": seed, "scheduler": scheduler}
        with helper_ranks.leading(prompt, unique_id, settings):
            text_embeds, image_embeds, teacache = context_parallel.from_rank_0(text_embeds, image_embeds, teacache)
            latent = sampling.sample(model, text_embeds, image_embeds, teacache=teacache, **settings)
        # The stats travel in the node's UI output so run summaries and ComfyUI history show them.
        return {"ui": {"wan_stats": [latent.stats]}, "result": (latent,)}


class WanI2VDecode:
    """Decodes the latent into frames."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "vae": ("WAN_VAE", {"tooltip": "From WanI2VVAELoader."}),
                "latent": ("WAN_LATENT", {"tooltip": "From WanI2VSampler."}),
            },
        }

    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("images",)
    OUTPUT_TOOLTIPS = ("Frames as ComfyUI IMAGE: [frames, height, width, 3] floats in 0..1.",)
    FUNCTION = "decode"
    CATEGORY = CATEGORY
    DESCRIPTION = "Decodes a WAN latent with the video VAE into standard ComfyUI IMAGE frames."

    def decode(self, vae: Vae, latent: Latent) -> tuple[torch.Tensor]:
        return (decode.decode_latent(vae, latent),)

"""Conditioning nodes: prompt text and start image."""

from __future__ import annotations

import torch

from ..errors import ParameterError
from ..pipeline import defaults, text
from ..pipeline import image as image_pipeline
from ..pipeline.types import ClipVision, ImageEmbeds, TextEmbeds, TextEncoder, Vae

CATEGORY = "WAN I2V/conditioning"
RESOLUTIONS = ["480p", "720p", "custom"]


class WanI2VTextEncode:
    """Encodes the prompt and the negative prompt with umT5."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "text_encoder": ("WAN_TEXT_ENCODER", {"tooltip": "From WanI2VTextEncoderLoader."}),
                "prompt": ("STRING", {"multiline": True, "default": "", "tooltip": "What should happen in the video."}),
                "negative_prompt": (
                    "STRING",
                    {
                        "multiline": True,
                        "default": defaults.NEGATIVE_PROMPT,
                        "tooltip": "What to steer away from (used by CFG). Defaults to WAN's official I2V negative prompt.",
                    },
                ),
            },
        }

    RETURN_TYPES = ("WAN_TEXT_EMBEDS",)
    RETURN_NAMES = ("text_embeds",)
    OUTPUT_TOOLTIPS = ("Prompt and negative-prompt states, zero-padded to 512 tokens.",)
    FUNCTION = "encode"
    CATEGORY = CATEGORY
    DESCRIPTION = "Encodes the prompt and negative prompt for the WAN sampler."

    def encode(self, text_encoder: TextEncoder, prompt: str, negative_prompt: str = defaults.NEGATIVE_PROMPT) -> tuple[TextEmbeds]:
        return (text.encode_prompts(text_encoder, prompt, negative_prompt),)


class WanI2VImageEncode:
    """Encodes the start image: CLIP features plus the VAE-encoded first-frame condition."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "clip_vision": ("WAN_CLIP_VISION", {"tooltip": "From WanI2VCLIPVisionLoader."}),
                "vae": ("WAN_VAE", {"tooltip": "From WanI2VVAELoader."}),
                "image": ("IMAGE", {"tooltip": "The start frame. The video keeps its aspect ratio."}),
                "resolution": (
                    RESOLUTIONS,
                    {
                        "default": "480p",
                        "tooltip": "480p / 720p: the image's aspect ratio within 832x480 / 1280x720 pixels. "
                        "custom: use width and height as given.",
                    },
                ),
                "width": ("INT", {"default": 832, "min": 16, "max": 2048, "step": 16, "tooltip": "Video width when resolution is custom (multiple of 16)."}),
                "height": ("INT", {"default": 480, "min": 16, "max": 2048, "step": 16, "tooltip": "Video height when resolution is custom (multiple of 16)."}),
                "num_frames": (
                    "INT",
                    {
                        "default": defaults.NUM_FRAMES,
                        "min": 1,
                        "max": defaults.MAX_FRAMES,
                        "step": 4,
                        "tooltip": "Frames to generate; must be 4n+1 (81 = 5 s at 16 fps).",
                    },
                ),
            },
        }

    RETURN_TYPES = ("WAN_IMAGE_EMBEDS",)
    RETURN_NAMES = ("image_embeds",)
    OUTPUT_TOOLTIPS = ("Start-image conditioning for the sampler.",)
    FUNCTION = "encode"
    CATEGORY = CATEGORY
    DESCRIPTION = "Encodes the start image with CLIP vision and the VAE for WAN 2.1 I2V."

    @classmethod
    def VALIDATE_INPUTS(cls, resolution: str, width: int, height: int, num_frames: int) -> bool | str:
        # ComfyUI skips its own list/min/max checks for inputs named here, so all are checked here.
        if resolution not in RESOLUTIONS:
            return f"resolution must be one of {', '.join(RESOLUTIONS)}; got {resolution!r}."
        try:
            image_pipeline.check_num_frames(num_frames)
            if resolution == "custom":
                image_pipeline.target_size(width, height, resolution, width, height)
        except ParameterError as exc:
            return str(exc)
        if num_frames > defaults.MAX_FRAMES:
            return f"num_frames must be at most {defaults.MAX_FRAMES}; got {num_frames}."
        return True

    def encode(
        self,
        clip_vision: ClipVision,
        vae: Vae,
        image: torch.Tensor,
        resolution: str = "480p",
        width: int = 832,
        height: int = 480,
        num_frames: int = defaults.NUM_FRAMES,
    ) -> tuple[ImageEmbeds]:
        return (image_pipeline.encode_start_image(clip_vision, vae, image, resolution, width, height, num_frames),)

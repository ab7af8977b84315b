"""The LoRA loader node."""

from __future__ import annotations

import dataclasses
import logging

from ..accel.lora_patch import LoraPatch
from ..errors import ModelNotFoundError, ParameterError
from ..models import lora
from ..pipeline.types import WanModel
from .loaders import file_stamp

logger = logging.getLogger(__name__)

CATEGORY = "WAN I2V/loaders"


class WanI2VLoraLoader:
    """Adds a LoRA to the model's chain; chain several loaders for several LoRAs."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "model": ("WAN_MODEL", {"tooltip": "From WanI2VModelLoader or another LoRA loader."}),
                "lora_name": (
                    lora.list_loras(),
                    {
                        "tooltip": "A LoRA file in models/loras: ComfyUI/Kijai (diffusion_model.*), kohya/musubi "
                        "(lora_unet_*) or diffusers (transformer.*) keys, e.g. the lightx2v 4-step distillation LoRA.",
                    },
                ),
                "strength": (
                    "FLOAT",
                    {
                        "default": 1.0,
                        "min": -10.0,
                        "max": 10.0,
                        "step": 0.01,
                        "tooltip": "How much of the LoRA's change to add (1.0 = as trained; 0 = the model unchanged).",
                    },
                ),
            },
        }

    @classmethod
    def VALIDATE_INPUTS(cls, lora_name: str | None = None) -> bool | str:
        if lora_name is None:
            return True
        try:
            lora.find_lora(lora_name)
        except ModelNotFoundError as exc:
            return str(exc)
        return True

    @classmethod
    def IS_CHANGED(cls, lora_name: str, **_: object) -> str:
        try:
            return file_stamp(lora.find_lora(lora_name))
        except ModelNotFoundError:
            return "missing"

    RETURN_TYPES = ("WAN_MODEL",)
    RETURN_NAMES = ("model",)
    OUTPUT_TOOLTIPS = ("The model with this LoRA added to its chain (the input model is left unchanged).",)
    FUNCTION = "load"
    CATEGORY = CATEGORY
    DESCRIPTION = (
        "Loads a WAN 2.1 LoRA and adds it to the model. Keys that do not apply to this model are listed in the log "
        "and the run summary. Merged into the weights while sampling (no per-step cost); over FP8 weights it runs "
        "as a small bf16 adapter instead. Removing the node restores the original weights exactly."
    )

    def load(self, model: WanModel, lora_name: str, strength: float = 1.0) -> tuple[WanModel]:
        if not -10.0 <= strength <= 10.0:
            raise ParameterError(f"LoRA strength must be between -10 and 10, got {strength}.")
        weights = lora.load_lora(lora.find_lora(lora_name), model.transformer)
        logger.info("%s", weights.summary())
        chain = (*model.options.get("loras", ()), LoraPatch(weights, float(strength)))
        return (dataclasses.replace(model, options={**model.options, "loras": chain}),)

"""Loader nodes: diffusion model, text encoder, CLIP vision, VAE."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .. import host
from ..errors import ModelNotFoundError
from ..models import loaders
from ..pipeline.types import ClipVision, TextEncoder, Vae, WanModel

CATEGORY = "WAN I2V/loaders"
DTYPES = ["auto", "bf16", "fp16", "fp32"]
DTYPE_TIP = "Compute dtype. auto = bf16 on a GPU, fp32 on the CPU (half precision is slow or unsupported there)."


def _model_input(kind: str, tooltip: str) -> tuple:
    return (host.list_models(kind), {"tooltip": tooltip})


def _check_model(kind: str, model_name: str | None) -> bool | str:
    """Say which file is missing and where we looked, rather than only 'not in list'."""
    if model_name is None:
        return True
    try:
        host.find_model(kind, model_name)
    except ModelNotFoundError as exc:
        return str(exc)
    return True


def file_stamp(path: Path) -> str:
    """Size and modification time of a model file (or of every file in a diffusers folder):
    what IS_CHANGED reports, so a file replaced on disk loads again instead of the cached one."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return hashlib.sha1(";".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files).encode()).hexdigest()


def _stamp(kind: str, model_name: str) -> str:
    try:
        return file_stamp(host.find_model(kind, model_name))
    except ModelNotFoundError:
        return "missing"  # validation reports it; a constant keeps the cache from re-running on every prompt


class WanI2VModelLoader:
    """Loads a WAN 2.1 I2V diffusion model (ComfyUI single file or diffusers folder)."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "model_name": _model_input(
                    "diffusion_models",
                    "WAN 2.1 I2V weights: a file in models/diffusion_models (e.g. wan2.1_i2v_480p_14B_bf16.safetensors) "
                    "or a diffusers folder in models/diffusers. The architecture is read from the weights.",
                ),
                "compute_dtype": (DTYPES, {"default": "auto", "tooltip": DTYPE_TIP}),
            },
            "optional": {
                "weight_dtype": (
                    ["default", "fp8_e4m3fn", "fp8_e5m2"],
                    {
                        "default": "default",
                        "tooltip": "Store the transformer's weights in FP8 (about half the memory of bf16); each layer "
                        "is upcast to the compute dtype while it runs. Norms, embeddings and the head stay full precision.",
                    },
                ),
                "offload": (
                    ["none", "model", "blocks"],
                    {
                        "default": "none",
                        "tooltip": "none: keep the model on the GPU. model: keep it in RAM, move it to the GPU only while "
                        "sampling. blocks: stream one transformer block at a time to the GPU (14B on 24 GB cards).",
                    },
                ),
                "attention": (
                    ["sdpa", "sage", "auto"],
                    {
                        "default": "sdpa",
                        "tooltip": "Attention kernel. sage needs CUDA, the sageattention package and fp16/bf16; "
                        "otherwise it falls back to sdpa with a warning. auto picks sage when it can run.",
                    },
                ),
            },
        }

    @classmethod
    def VALIDATE_INPUTS(cls, model_name: str | None = None) -> bool | str:
        return _check_model("diffusion_models", model_name)

    @classmethod
    def IS_CHANGED(cls, model_name: str, **_: object) -> str:
        return _stamp("diffusion_models", model_name)

    RETURN_TYPES = ("WAN_MODEL",)
    RETURN_NAMES = ("model",)
    OUTPUT_TOOLTIPS = ("The WAN transformer, ready for the sampler.",)
    FUNCTION = "load"
    CATEGORY = CATEGORY
    DESCRIPTION = "Loads a WAN 2.1 image-to-video diffusion model from disk (never from a hub)."

    def load(
        self,
        model_name: str,
        compute_dtype: str = "auto",
        weight_dtype: str = "default",
        offload: str = "none",
        attention: str = "sdpa",
    ) -> tuple[WanModel]:
        path = host.find_model("diffusion_models", model_name)
        model = loaders.load_transformer(path, compute_dtype, weight_dtype=weight_dtype, offload=offload)
        model.options["attention"] = attention
        return (model,)


class WanI2VTextEncoderLoader:
    """Loads the umT5-XXL text encoder and its tokenizer."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "model_name": _model_input(
                    "text_encoders",
                    "umT5 encoder: a file in models/text_encoders with its tokenizer stored inside (spiece_model), "
                    "e.g. umt5_xxl_fp16.safetensors, or a diffusers folder.",
                ),
                "compute_dtype": (DTYPES, {"default": "auto", "tooltip": DTYPE_TIP}),
            },
        }

    @classmethod
    def VALIDATE_INPUTS(cls, model_name: str | None = None) -> bool | str:
        return _check_model("text_encoders", model_name)

    @classmethod
    def IS_CHANGED(cls, model_name: str, **_: object) -> str:
        return _stamp("text_encoders", model_name)

    RETURN_TYPES = ("WAN_TEXT_ENCODER",)
    RETURN_NAMES = ("text_encoder",)
    OUTPUT_TOOLTIPS = ("umT5 encoder with its SentencePiece tokenizer.",)
    FUNCTION = "load"
    CATEGORY = CATEGORY
    DESCRIPTION = "Loads the umT5 text encoder used by WAN 2.1."

    def load(self, model_name: str, compute_dtype: str = "auto") -> tuple[TextEncoder]:
        return (loaders.load_text_encoder(host.find_model("text_encoders", model_name), compute_dtype),)


class WanI2VCLIPVisionLoader:
    """Loads the CLIP ViT-H/14 vision tower."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "model_name": _model_input(
                    "clip_vision",
                    "CLIP vision weights: a file in models/clip_vision (e.g. clip_vision_h.safetensors) or a diffusers folder.",
                ),
                "compute_dtype": (DTYPES, {"default": "auto", "tooltip": DTYPE_TIP}),
            },
        }

    @classmethod
    def VALIDATE_INPUTS(cls, model_name: str | None = None) -> bool | str:
        return _check_model("clip_vision", model_name)

    @classmethod
    def IS_CHANGED(cls, model_name: str, **_: object) -> str:
        return _stamp("clip_vision", model_name)

    RETURN_TYPES = ("WAN_CLIP_VISION",)
    RETURN_NAMES = ("clip_vision",)
    OUTPUT_TOOLTIPS = ("CLIP vision encoder for the start image.",)
    FUNCTION = "load"
    CATEGORY = CATEGORY
    DESCRIPTION = "Loads the CLIP vision encoder that gives WAN 2.1 I2V its image features."

    def load(self, model_name: str, compute_dtype: str = "auto") -> tuple[ClipVision]:
        return (loaders.load_clip_vision(host.find_model("clip_vision", model_name), compute_dtype),)


class WanI2VVAELoader:
    """Loads the WAN 2.1 video VAE."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "model_name": _model_input(
                    "vae", "WAN 2.1 VAE: a file in models/vae (e.g. wan_2.1_vae.safetensors) or a diffusers folder."
                ),
                "compute_dtype": (
                    DTYPES,
                    {"default": "fp32", "tooltip": "VAE dtype. The reference runs the VAE in fp32; bf16 halves its memory."},
                ),
            },
            "optional": {
                "tile_size": (
                    "INT",
                    {
                        "default": 0,
                        "min": 0,
                        "max": 1024,
                        "step": 32,
                        "tooltip": "0: whole frames when they fit the card, else tiles of 256 px (chosen for each "
                        "encode and decode, and again in tiles after an out-of-memory error). Above 0: always "
                        "overlapping tiles of this many pixels; a little slower, seams blended.",
                    },
                ),
            },
        }

    @classmethod
    def VALIDATE_INPUTS(cls, model_name: str | None = None) -> bool | str:
        return _check_model("vae", model_name)

    @classmethod
    def IS_CHANGED(cls, model_name: str, **_: object) -> str:
        return _stamp("vae", model_name)

    RETURN_TYPES = ("WAN_VAE",)
    RETURN_NAMES = ("vae",)
    OUTPUT_TOOLTIPS = ("The WAN 2.1 causal video VAE.",)
    FUNCTION = "load"
    CATEGORY = CATEGORY
    DESCRIPTION = "Loads the WAN 2.1 video VAE."

    def load(self, model_name: str, compute_dtype: str = "fp32", tile_size: int = 0) -> tuple[Vae]:
        return (loaders.load_vae(host.find_model("vae", model_name), compute_dtype, tile_size),)

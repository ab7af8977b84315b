"""WAN 2.1 image-to-video nodes for ComfyUI.

ComfyUI imports this folder as a custom-node pack and reads the two mappings
below. The same classes import without ComfyUI (tests, the CLI, the embedded
server); `host.py` supplies ComfyUI's services there.
"""

from __future__ import annotations

import importlib
import logging

from . import host

logger = logging.getLogger(__name__)

# module (relative to .nodes) -> {class name: display name}. One place lists every node.
NODE_CONFIG: dict[str, dict[str, str]] = {
    "loaders": {
        "WanI2VModelLoader": "WAN I2V Model Loader",
        "WanI2VTextEncoderLoader": "WAN I2V Text Encoder Loader",
        "WanI2VCLIPVisionLoader": "WAN I2V CLIP Vision Loader",
        "WanI2VVAELoader": "WAN I2V VAE Loader",
    },
    "encode": {
        "WanI2VTextEncode": "WAN I2V Text Encode",
        "WanI2VImageEncode": "WAN I2V Image Encode",
    },
    "sampling": {
        "WanI2VSampler": "WAN I2V Sampler",
        "WanI2VDecode": "WAN I2V Decode",
    },
    "accel": {
        "WanI2VTeaCache": "WAN I2V TeaCache",
        "WanI2VSageAttention": "WAN I2V SageAttention",
        "WanI2VCompile": "WAN I2V Compile (regional)",
    },
    "video": {
        "WanI2VSaveVideo": "WAN I2V Save Video",
    },
    "lora": {
        "WanI2VLoraLoader": "WAN I2V LoRA Loader",
    },
    "cache": {
        "WanI2VMagCache": "WAN I2V MagCache",
        "WanI2VFirstBlockCache": "WAN I2V First Block Cache",
        "WanI2VCache": "WAN I2V Cache",
    },
}

# Inside ComfyUI the core LoadImage is used; outside it, ours stands in.
if not host.IN_COMFYUI:
    NODE_CONFIG["image"] = {"LoadImage": "Load Image"}

_mappings: tuple[dict[str, type], dict[str, str]] | None = None


def _load_mappings() -> tuple[dict[str, type], dict[str, str]]:
    classes: dict[str, type] = {}
    names: dict[str, str] = {}
    for module_name, members in NODE_CONFIG.items():
        try:
            module = importlib.import_module(f".nodes.{module_name}", __name__)
        except Exception:  # one broken optional module must not take down the pack
            logger.warning("WAN I2V: could not load nodes from %s", module_name, exc_info=True)
            continue
        for class_name, display in members.items():
            classes[class_name] = getattr(module, class_name)
            names[class_name] = display
    return classes, names


def __getattr__(name: str) -> dict:
    """The mappings are built on first access, so `comfy_nodes.host` or `.errors` import without torch."""
    global _mappings
    if name in ("NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"):
        if _mappings is None:
            _mappings = _load_mappings()
        return _mappings[0] if name == "NODE_CLASS_MAPPINGS" else _mappings[1]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]

"""Read start images the way ComfyUI's LoadImage does, and find them by name.

Names follow ComfyUI: relative to the input folder ("sub/name.png"), optionally
annotated with the folder they live in ("name.png [input]", "[output]",
"[temp]"). Absolute names and ".." parts are refused.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image

from .. import host
from ..errors import InputImageError
from .image_check import ACCEPTED, IMAGE_EXTENSIONS, opened_image  # noqa: F401 - re-exported

EMPTY_MASK_SIZE = 64  # ComfyUI returns a 64x64 zero mask for images without alpha

_ANNOTATION_RE = re.compile(r"^(.*?)\s*\[(input|output|temp)\]$")
_HIGH_BIT_MODES = {"I": 65535.0, "I;16": 65535.0, "I;16L": 65535.0, "I;16B": 65535.0, "I;16N": 65535.0, "F": 1.0}


def load_image_file(path: str | Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Read an image as ComfyUI IMAGE [1,H,W,3] and MASK float32 tensors.

    The mask is 1 - alpha ([1,H,W]) when the image has transparency, else a
    [1,64,64] zero mask, as in ComfyUI. EXIF orientation is applied; only the
    first frame of an animated file is read.
    """
    path = Path(path)
    if path.is_dir():
        raise InputImageError(f"Input image '{path}' is a folder; give the path of an image file ({ACCEPTED}).")
    if not path.is_file():
        raise InputImageError(f"Input image '{path}' does not exist.")
    with opened_image(path, path.name) as img:
        return _to_image(img), _to_mask(img)


def _to_image(img: Image.Image) -> torch.Tensor:
    if img.mode in _HIGH_BIT_MODES:
        # Keep 16-bit precision instead of going through 8-bit RGB.
        grey = np.asarray(img, dtype=np.float32) / _HIGH_BIT_MODES[img.mode]
        pixels = np.repeat(np.clip(grey, 0.0, 1.0)[..., None], 3, axis=-1)
    else:
        rgb = img.convert("RGBA").convert("RGB") if img.has_transparency_data else img.convert("RGB")
        pixels = np.asarray(rgb, dtype=np.float32) / 255.0
    return torch.from_numpy(np.ascontiguousarray(pixels))[None]


def _to_mask(img: Image.Image) -> torch.Tensor:
    if img.mode not in _HIGH_BIT_MODES and img.has_transparency_data:
        alpha = np.asarray(img.convert("RGBA").getchannel("A"), dtype=np.float32) / 255.0
        return (1.0 - torch.from_numpy(np.ascontiguousarray(alpha)))[None]
    return torch.zeros((1, EMPTY_MASK_SIZE, EMPTY_MASK_SIZE), dtype=torch.float32)


def list_input_images() -> list[str]:
    """Image files under the input folder (recursive), as sorted "/"-separated names."""
    root = host.input_dir()
    names = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS:
            names.append(relative.as_posix())
    return sorted(names)


def resolve_input_image(name: str) -> Path:
    """Path of an existing input image named as ComfyUI names it."""
    relative, folder = split_annotation(name)
    path = folder / relative
    if not path.is_file():
        raise InputImageError(f"Input image '{name}' was not found in {folder}. Upload it or pick another file.")
    return path


def split_annotation(name: str) -> tuple[str, Path]:
    """("sub/name.png", folder) for "sub/name.png [output]" and the like; input folder by default."""
    text = (name or "").strip()
    folder = host.input_dir()
    match = _ANNOTATION_RE.match(text)
    if match:
        text = match.group(1)
        folder = {"input": host.input_dir, "output": host.output_dir, "temp": host.temp_dir}[match.group(2)]()
    text = text.replace("\\", "/")
    if not text:
        raise InputImageError("No input image was chosen; upload one or pick a file from the input folder.")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text) or ".." in PurePosixPath(text).parts:
        raise InputImageError(
            f"Input image name '{name}' points outside its folder; use a name relative to the input folder."
        )
    return text, folder

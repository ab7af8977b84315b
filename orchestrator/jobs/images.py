"""Input images: content sniffed, size and pixel limits, EXIF orientation applied, metadata dropped.

The stored file is a fresh PNG under a random name; the client's file name is never used as a path.
"""

from __future__ import annotations

import hashlib
import io
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from comfy_nodes.video.image_check import ACCEPTED, DECODERS, FORMAT_NAMES  # noqa: F401 (FORMAT_NAMES: re-exported)
from orchestrator.core.errors import InvalidImage, TooLarge

# The node pack's list (the embedded server and the CLI check the same formats); every message about the
# image's format reads ACCEPTED.
FORMATS = frozenset(DECODERS)  # as Pillow names them (Image.format)


@dataclass(frozen=True)
class StoredImage:
    path: Path
    sha256: str
    width: int
    height: int


def store_image(data: bytes, folder: Path, max_bytes: int, max_pixels: int, min_side: int) -> StoredImage:
    if len(data) > max_bytes:
        raise TooLarge(f"The image is {len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB. "
                       "Send a smaller or more compressed file.", "image")
    if not data:
        raise InvalidImage(f"The image file is empty; choose a {ACCEPTED} picture.", "image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            kind, (width, height) = probe.format, probe.size
            if width * height > max_pixels:  # checked from the header, before decoding a bomb
                raise TooLarge(f"The image is {width}x{height} ({width * height / 1e6:.1f} MP); the limit is "
                               f"{max_pixels / 1e6:.1f} MP. Scale it down first.", "image")
            if kind not in FORMATS:
                raise InvalidImage(f"{kind} images are not accepted; send {ACCEPTED}.", "image")
            image = ImageOps.exif_transpose(probe)
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidImage(f"The file is not an image that can be read ({ACCEPTED} expected).", "image") from exc
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise TooLarge("The image expands to too many pixels; scale it down first.", "image") from exc
    width, height = image.size
    if min(width, height) < min_side:
        raise InvalidImage(f"The image is {width}x{height}; each side needs at least {min_side} pixels.", "image")
    image = image.convert("RGB")  # also drops EXIF, ICC and text chunks
    out = io.BytesIO()
    image.save(out, format="PNG")
    png = out.getvalue()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.png"
    tmp = path.with_suffix(".part")
    tmp.write_bytes(png)
    tmp.replace(path)
    return StoredImage(path, hashlib.sha256(png).hexdigest(), width, height)

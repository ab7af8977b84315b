"""Open and check start images with Pillow alone (no torch), so bad input fails before models load.

The CLI checks `--image` with `check_image_file`; the embedded server checks uploads
with `check_image_bytes` when they arrive and again when a prompt names them. The
format is read from the content, never from the file name.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputImageError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
FORMAT_NAMES = ("PNG", "JPEG", "WebP", "BMP", "GIF", "TIFF")  # the accepted formats, as people write them
ACCEPTED = ", ".join(FORMAT_NAMES[:-1]) + " or " + FORMAT_NAMES[-1]  # "PNG, JPEG, WebP, BMP, GIF or TIFF"
DECODERS = tuple(name.upper() for name in FORMAT_NAMES)  # the only Pillow decoders tried
FORMATS = (*DECODERS, "MPO")  # what they report; MPO is a camera JPEG with extra frames


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    format: str  # Pillow's name for what the bytes are, e.g. "PNG"


@contextlib.contextmanager
def opened_image(source: str | Path | bytes, name: str, max_pixels: int | None = None) -> Iterator[Image.Image]:
    """The first frame, EXIF orientation applied and loaded; unreadable or oversized images raise InputImageError."""
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # refuse, rather than print Pillow's warning
            # Only the accepted formats' decoders are tried (never EPS, PSD, ... on untrusted bytes).
            with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source, formats=DECODERS) as opened:
                if opened.format not in FORMATS:
                    raise InputImageError(f"'{name}' is a {opened.format} image; accepted formats: {ACCEPTED}.")
                if limit and opened.width * opened.height > limit:
                    raise InputImageError(
                        f"'{name}' is {opened.width}x{opened.height} = {opened.width * opened.height:,} pixels, over the "
                        f"{limit:,}-pixel limit. Scale it down; the video is at most 1280x720 anyway."
                    )
                img = ImageOps.exif_transpose(opened)  # a loaded copy of the first frame
                yield img
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputImageError(
            f"'{name}' is too large to read safely ({exc.args[0].split('(')[0].strip() if exc.args else exc}). "
            f"Scale it down to at most {Image.MAX_IMAGE_PIXELS // 1_000_000} megapixels; the video is at most 1280x720 anyway."
        ) from exc
    except UnidentifiedImageError as exc:
        raise InputImageError(f"Cannot read '{name}' as an image (its content is in none of the accepted formats). Accepted formats: {ACCEPTED}.") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputImageError(f"Cannot read '{name}' as an image ({exc}). Accepted formats: {ACCEPTED}.") from exc


def check_image_file(path: str | Path, max_pixels: int | None = None) -> ImageInfo:
    """Size and format of a readable start image file; InputImageError says why it is not one."""
    path = Path(path)
    if path.is_dir():
        raise InputImageError(f"Input image '{path}' is a folder; give the path of an image file ({ACCEPTED}).")
    if not path.is_file():
        raise InputImageError(f"Input image '{path}' does not exist.")
    with opened_image(path, path.name, max_pixels) as img:
        return ImageInfo(img.width, img.height, _format_of(path))


def check_image_bytes(data: bytes, name: str, max_pixels: int | None = None) -> ImageInfo:
    """The same check on bytes (an upload); the content decides, not the name."""
    if not data:
        raise InputImageError(f"'{name}' is empty.")
    with opened_image(data, name, max_pixels) as img:
        return ImageInfo(img.width, img.height, _format_of(data))


def _format_of(source: str | Path | bytes) -> str:
    with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source, formats=DECODERS) as opened:
        return str(opened.format)

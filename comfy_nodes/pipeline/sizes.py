"""Video size and frame-count rules, without torch (the CLI checks them before loading models)."""

from __future__ import annotations

import math

from ..errors import ParameterError
from .defaults import RESOLUTION_AREAS, SIZE_MULTIPLE, VAE_STRIDE_S, VAE_STRIDE_T

MAX_SIDE = 2048  # RoPE covers 1024 positions per axis; 2048 px is 128 latent patches


def check_num_frames(num_frames: int) -> None:
    """Frames must be 4n+1 (the VAE packs 4 frames per latent frame after the first)."""
    if num_frames < 1 or (num_frames - 1) % VAE_STRIDE_T:
        lower = max(1, num_frames - (num_frames - 1) % VAE_STRIDE_T)
        upper = lower + VAE_STRIDE_T
        raise ParameterError(f"num_frames must be 4n+1 (e.g. 81); {num_frames} is not. Nearest valid values: {lower} or {upper}.")


def target_size(image_width: int, image_height: int, resolution: str, width: int, height: int) -> tuple[int, int]:
    """(width, height) of the video: the image's aspect ratio within the preset's area, multiples of 16."""
    if resolution == "custom":
        for name, value in (("width", width), ("height", height)):
            if value > MAX_SIDE:
                raise ParameterError(f"{name} must be at most {MAX_SIDE}; got {value}.")
            if value < SIZE_MULTIPLE or value % SIZE_MULTIPLE:
                low = max(SIZE_MULTIPLE, value // SIZE_MULTIPLE * SIZE_MULTIPLE)
                raise ParameterError(f"{name} must be a multiple of 16; {value} is not. Nearest valid values: {low} or {low + SIZE_MULTIPLE}.")
        return width, height
    if resolution not in RESOLUTION_AREAS:
        raise ParameterError(f"Unknown resolution '{resolution}'; choose 480p, 720p or custom.")
    area = RESOLUTION_AREAS[resolution]
    aspect = image_height / image_width
    # The official rounding: latent size floored to whole patches (8 px VAE stride x 2 patch).
    patch = SIZE_MULTIPLE // VAE_STRIDE_S
    lat_h = round(math.sqrt(area * aspect) // VAE_STRIDE_S // patch * patch)
    lat_w = round(math.sqrt(area / aspect) // VAE_STRIDE_S // patch * patch)
    out_w, out_h = max(lat_w, patch) * VAE_STRIDE_S, max(lat_h, patch) * VAE_STRIDE_S
    if max(out_w, out_h) > MAX_SIDE:
        raise ParameterError(
            f"The image's aspect ratio ({image_width}x{image_height}) is too extreme: the {resolution} video would be "
            f"{out_w}x{out_h}, over the {MAX_SIDE}-pixel limit. Crop the image, or use resolution=custom with a width and height."
        )
    return out_w, out_h

"""LoadImage with the same name and interface as ComfyUI's core node.

Only registered outside ComfyUI (the embedded server and the CLI), so that
workflows made in ComfyUI run unchanged there.
"""

from __future__ import annotations

import hashlib

import torch

from ..errors import InputImageError
from ..video import images
from ..video.image_check import check_image_file


class LoadImage:
    """Loads an image from the input folder as IMAGE plus MASK."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "image": (
                    images.list_input_images(),
                    {
                        "image_upload": True,
                        "tooltip": "An image in the input folder (subfolders allowed). "
                        f"Upload one with POST /upload/image. Formats: {images.ACCEPTED}.",
                    },
                ),
            },
        }

    RETURN_TYPES = ("IMAGE", "MASK")
    OUTPUT_TOOLTIPS = (
        "The image as [1, height, width, 3] floats in 0..1, EXIF orientation applied.",
        "1 - alpha where the image has transparency, else a 64x64 zero mask.",
    )
    FUNCTION = "load_image"
    CATEGORY = "image"
    DESCRIPTION = "Loads an image from the input folder, as ComfyUI's Load Image node does."

    def load_image(self, image: str) -> tuple[torch.Tensor, torch.Tensor]:
        return images.load_image_file(images.resolve_input_image(image))

    @classmethod
    def IS_CHANGED(cls, image: str) -> str:
        """sha256 of the file, so a re-uploaded image under the same name re-runs."""
        digest = hashlib.sha256()
        with images.resolve_input_image(image).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    @classmethod
    def VALIDATE_INPUTS(cls, image: str) -> str | bool:
        try:
            path = images.resolve_input_image(image)
        except InputImageError as exc:
            return f"Invalid image file: {image} ({exc})"
        try:
            check_image_file(path)  # the content, at submit time rather than when the node runs
        except InputImageError as exc:
            return f"Invalid image file: {image} ({exc})"
        return True

"""The video output node."""

from __future__ import annotations

import torch

from .. import host
from ..errors import ParameterError
from ..pipeline import defaults
from ..video import ffmpeg, naming

CATEGORY = "WAN I2V/video"
CRF_MAX = 51
FPS_MIN, FPS_MAX = 1.0, 120.0


class WanI2VSaveVideo:
    """Encodes frames to an mp4 (H.264) or webm (VP9) in the output folder, with a PNG poster."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "Frames to encode, e.g. from WanI2VDecode."}),
                "fps": (
                    "FLOAT",
                    {"default": float(defaults.FPS), "min": FPS_MIN, "max": FPS_MAX, "step": 1.0,
                     "tooltip": "Frames per second (WAN 2.1 is trained at 16)."},
                ),  # fmt: skip
                "filename_prefix": (
                    "STRING",
                    {"default": "wan_i2v/video",
                     "tooltip": "Where to save, relative to the output folder; may include a subfolder. "
                                "A counter is appended: video_00001_.mp4."},
                ),  # fmt: skip
                "format": (
                    list(ffmpeg.FORMATS),
                    {"default": "mp4", "tooltip": "mp4: H.264, plays everywhere. webm: VP9, smaller, slower to encode."},
                ),
                "crf": (
                    "INT",
                    {"default": 19, "min": 0, "max": CRF_MAX,
                     "tooltip": "Quality: lower is better and larger. 19 is near-transparent; 0 is lossless "
                                "(lossless H.264 does not play in browsers)."},
                ),  # fmt: skip
            },
        }

    RETURN_TYPES = ()
    FUNCTION = "save"
    OUTPUT_NODE = True
    CATEGORY = CATEGORY
    DESCRIPTION = (
        "Saves the frames as a video named like ComfyUI's Save Video (prefix_00001_.mp4) and a first-frame "
        "PNG poster with the same name."
    )

    def save(
        self,
        images: torch.Tensor,
        fps: float = float(defaults.FPS),
        filename_prefix: str = "wan_i2v/video",
        format: str = "mp4",  # noqa: A002 - the input's name in saved workflows
        crf: int = 19,
    ) -> dict:
        if format not in ffmpeg.FORMATS:
            raise ParameterError(f"format must be one of {', '.join(ffmpeg.FORMATS)}; got '{format}'.")
        if not FPS_MIN <= float(fps) <= FPS_MAX:
            raise ParameterError(f"fps must be in {FPS_MIN:g}..{FPS_MAX:g}; got {fps}.")
        if not 0 <= int(crf) <= CRF_MAX:
            raise ParameterError(f"crf must be in 0..{CRF_MAX}; got {crf}.")
        subfolder, base = naming.split_prefix(filename_prefix)
        folder = host.output_dir() / subfolder
        folder.mkdir(parents=True, exist_ok=True)
        stem = naming.numbered_stem(base, naming.next_counter(folder, base))

        video = ffmpeg.write_video(images, folder / f"{stem}.{format}", fps=float(fps), fmt=format, crf=int(crf))
        poster = ffmpeg.save_poster(images, folder / f"{stem}.png")
        # "images" + "animated" is exactly what core SaveVideo reports; the poster
        # goes under its own key, which ComfyUI's frontend ignores.
        return {
            "ui": {
                "images": [{"filename": video.name, "subfolder": subfolder, "type": "output"}],
                "animated": [True],
                "posters": [{"filename": poster.name, "subfolder": subfolder, "type": "output"}],
            }
        }

"""Errors raised by the node pack.

Every error names the problem and, where there is one, the fix. Nodes let them
propagate (ComfyUI shows the message); the CLI and the server turn them into
clear messages without tracebacks.

    WanI2VError
    ├── ModelNotFoundError      a named file or folder is not in the searched folders
    ├── ModelFormatError        a file is unreadable or is not the expected kind of model
    │   └── WrongModelTypeError a valid WAN checkpoint of the wrong kind (T2V given to I2V)
    ├── InputImageError         the input image cannot be read
    ├── ParameterError          a value is outside its bounds or not allowed
    ├── VideoWriteError         ffmpeg failed to write a video
    ├── RankOutOfStep           a rank of a split run was told what does not fit, or waited in vain
    └── Interrupted             the run was interrupted (outside ComfyUI)
"""

from __future__ import annotations


class WanI2VError(Exception):
    """Base class of every error the pack raises on purpose."""


class ModelNotFoundError(WanI2VError):
    pass


class ModelFormatError(WanI2VError):
    pass


class WrongModelTypeError(ModelFormatError):
    pass


class InputImageError(WanI2VError):
    pass


class ParameterError(WanI2VError):
    pass


class VideoWriteError(WanI2VError):
    pass


class Interrupted(WanI2VError):
    """Raised between steps when an interrupt was requested (outside ComfyUI)."""

    def __init__(self, message: str = "Processing interrupted") -> None:
        super().__init__(message)


class RankOutOfStep(WanI2VError):
    """A rank of a run split over GPUs was told something that does not fit where it is, or the
    others did not come in time (comfy_nodes/accel/rank_lead.py)."""


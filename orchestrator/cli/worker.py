"""`wan-i2v worker` (to be filled in)."""

from __future__ import annotations


def worker() -> None:
    """Serve the embedded ComfyUI-compatible worker."""
    raise NotImplementedError

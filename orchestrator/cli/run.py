"""`wan-i2v run` (to be filled in)."""

from __future__ import annotations


def run() -> None:
    """Run a workflow."""
    raise NotImplementedError

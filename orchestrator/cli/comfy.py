"""`wan-i2v comfy ...` (to be filled in)."""

from __future__ import annotations

import typer

app = typer.Typer(help="comfy commands", no_args_is_help=True)

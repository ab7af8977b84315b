"""`wan-i2v run`: one workflow, one image, one prompt -> one video file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from .errors import report_errors


def parse_sets(values: list[str]) -> dict[str, str]:
    params = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"--set expects name=value; got '{item}'.", param_hint="--set")
        params[name.strip()] = value
    return params


class TerminalProgress:
    """One updating line on stderr while nodes run (only on a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, node_id: str, class_type: str, value: int, total: int) -> None:
        if not self.enabled:
            return
        if total:
            filled = int(30 * value / total)
            bar = "#" * filled + "-" * (30 - filled)
            text = f"[{bar}] {value}/{total}"
        else:
            text = "..."
        sys.stderr.write(f"\r  {class_type:<24} {text:<40}")
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def run(
    workflow: Annotated[str, typer.Argument(help="Released workflow: NAME or NAME@VERSION (see `wan-i2v workflows list`).")],
    image: Annotated[Path, typer.Option("--image", help="Start image (PNG, JPEG, WebP, ...).")],
    prompt: Annotated[str, typer.Option("--prompt", help="What should happen in the video.")],
    out: Annotated[Path, typer.Option("--out", help="Output video path (.mp4 or .webm).")],
    models: Annotated[Path, typer.Option("--models", help="models folder (ComfyUI layout).", envvar="WAN_MODELS_DIR")] = Path("models"),
    set_: Annotated[list[str], typer.Option("--set", help="Workflow parameter as name=value; repeatable.")] = [],  # noqa: B006
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON summary as the last line.")] = False,
) -> None:
    """Run a workflow on an image and a prompt and write the video."""
    from ..runner import RunRequest, run_workflow

    params: dict[str, Any] = {**parse_sets(set_), "prompt": prompt}
    progress = TerminalProgress(sys.stderr.isatty())
    with report_errors(json_):
        summary = run_workflow(RunRequest(workflow=workflow, image=image, out=out, models=models, params=params), progress)
    progress.done()
    if json_:
        typer.echo(json.dumps(summary, default=str))
    else:
        echo_result(summary)


def echo_result(summary: dict[str, Any]) -> None:
    """The human-readable lines of a finished run."""
    info = summary["video_info"]
    typer.echo(f"Video:  {summary['video']}  ({info['num_frames']} frames, {info['width']}x{info['height']}, "
               f"{info['codec']}, {summary['total_seconds']} s)")
    if summary["poster"]:
        typer.echo(f"Poster: {summary['poster']}")

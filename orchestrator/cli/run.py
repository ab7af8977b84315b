"""`wan-i2v run`: one workflow, one image, one prompt -> one video file.

    wan-i2v run cat.png --prompt "a cat turns its head"              # i2v_480p, writes ./cat.mp4
    wan-i2v run i2v_720p cat.png --prompt ... --out cat.mp4
    wan-i2v run my_workflow_api.json cat.png --prompt ... --set 10.steps=30

Everything that can be checked without torch (arguments, the image, the output
path, parameters, model files) is checked before torch is imported.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any, TextIO

import click
import typer
from typer.core import TyperCommand

from .errors import report_errors


def parse_sets(values: list[str]) -> dict[str, str]:
    params = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"--set expects name=value; got '{item}'.", param_hint="--set")
        params[name.strip()] = value
    return params


class Progress:
    """Node and step progress on a stream: one updating bar on a terminal, plain lines otherwise.

    Plain lines (logs, CI, pipes) never carry carriage returns: one line when a node
    starts and one per 10% of its steps (every step when it has at most 10).
    """

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._open_line = False
        self._last: tuple[str, int] | None = None  # (node_id, bucket) last printed as a plain line

    def __call__(self, node_id: str, class_type: str, value: int, total: int) -> None:
        if self.tty:
            self._bar(class_type, value, total)
        else:
            self._line(node_id, class_type, value, total)

    def note(self, text: str) -> None:
        """A message line between progress output."""
        self.done()
        self.stream.write(text + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self._open_line:
            self.stream.write("\n")
            self.stream.flush()
            self._open_line = False

    def _bar(self, class_type: str, value: int, total: int) -> None:
        if total:
            filled = int(30 * value / total)
            text = f"[{'#' * filled}{'-' * (30 - filled)}] {value}/{total}"
        else:
            text = "..."
        self.stream.write(f"\r  {class_type:<24} {text:<40}")
        self.stream.flush()
        self._open_line = True

    def _line(self, node_id: str, class_type: str, value: int, total: int) -> None:
        if not total:
            self.stream.write(f"  {class_type} (node {node_id})\n")
        else:
            bucket = value if total <= 10 else value * 10 // total
            if self._last == (node_id, bucket):
                return
            self._last = (node_id, bucket)
            self.stream.write(f"  {class_type} {value}/{total}\n")
        self.stream.flush()


EPILOG = (
    "Examples:\n\n"
    "  wan-i2v run cat.png -p \"a cat turns its head\"\n\n"
    "  wan-i2v run i2v_480p_fast cat.png -p \"a cat yawns\" --set num_frames=49\n\n"
    "IMAGE is required (here or as --image). See a workflow's parameters with `wan-i2v workflows show NAME`."
)


class RunCommand(TyperCommand):
    """`run`'s usage line names the arguments as they are given: an optional workflow, then the image."""

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return ["[OPTIONS]", "[WORKFLOW]", "IMAGE"]

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        for param in params:  # no type tags (<list[str]>, <bool>) where the name says it all
            if param.name in ("args", "help"):
                param.display_type_rich = lambda ctx: None  # type: ignore[attr-defined]
        return params


def run(
    prompt: Annotated[
        str, typer.Option("--prompt", "-p", metavar="TEXT", show_default=False, help="What should happen in the video.")
    ],
    args: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[WORKFLOW] IMAGE",
            help="IMAGE (required): the start image (PNG, JPEG, WebP, ...), optionally after a workflow: a released NAME or NAME@VERSION "
            "(`wan-i2v workflows list`; default i2v_480p) or an API-format workflow .json (ComfyUI's Export (API)).",
            show_default=False,
        ),
    ] = None,
    image: Annotated[Path | None, typer.Option("--image", metavar="FILE", help="The start image, when not given as IMAGE.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", metavar="FILE", help="Output video (.mp4 or .webm). Default: IMAGE_NAME.mp4 here, never overwriting.")
    ] = None,
    models: Annotated[Path, typer.Option("--models", metavar="DIR", help="models folder (ComfyUI layout).", envvar="WAN_MODELS_DIR")] = Path("models"),
    set_: Annotated[
        list[str],
        typer.Option("--set", metavar="NAME=VALUE", help="Parameter as name=value (a workflow file: NODE_ID.INPUT=value); repeatable."),
    ] = [],  # noqa: B006
    preset: Annotated[
        str,
        typer.Option(
            "--preset",
            metavar="auto|demo|workflow",
            help="Model files: auto (the demo model when the folder holds it but not the workflow's files), "
            "demo (always the demo model, small size), workflow (the workflow's own files).",
        ),
    ] = "auto",
    json_: Annotated[bool, typer.Option("--json", metavar="", help="Print a JSON summary as the last line.")] = False,
    cp_ulysses: Annotated[
        int,
        typer.Option("--cp-ulysses", metavar="N", help="Split the video over N GPUs of this machine (context "
                     "parallelism, one process per GPU). N must divide the model's attention heads: 2, 4, 5 or 8 "
                     "for WAN 14B; 1 (the default) runs in this process."),
    ] = 1,
) -> None:
    """Run a workflow on an image and a prompt and write the video."""
    if cp_ulysses < 1:
        raise typer.BadParameter(f"N must be 1 or more; got {cp_ulysses}.", param_hint="--cp-ulysses")
    from ..runner import DEFAULT_WORKFLOW, RunRequest, default_out, execute_plan, follow_plan, plan_run
    from . import ranks

    as_rank = ranks.is_rank()

    workflow, start = _workflow_and_image(args or [], image)
    params: dict[str, Any] = {**parse_sets(set_), "prompt": prompt}
    progress = Progress()
    ranks_exit: int | None = None
    with report_errors(json_):
        request = RunRequest(
            workflow=workflow or DEFAULT_WORKFLOW,
            image=start,
            out=out or default_out(start),
            models=models,
            params=params,
            preset=preset,
        )
        plan = plan_run(request)  # no torch yet: bad input stops here in well under a second
        if cp_ulysses > 1 and not as_rank:  # input checked once here, then the ranks start
            ranks.check_split(cp_ulysses, plan.parameters, _model_file(plan.prompt))
            ranks_exit = ranks.start_ranks(cp_ulysses, sys.argv[1:])
        else:
            for line in plan.notes:
                progress.note(line)
            progress.note(plan.describe())
            with ranks.process_group() if as_rank else contextlib.nullcontext():
                if as_rank and ranks.rank() > 0:  # rank 0 reports and writes the video; the others sample quietly
                    ranks.following(lambda: follow_plan(plan))  # exits
                with ranks.leading() if as_rank else contextlib.nullcontext():
                    summary = execute_plan(plan, progress)
    if ranks_exit is not None:
        raise typer.Exit(ranks_exit)
    progress.done()
    if json_:
        typer.echo(json.dumps(summary, default=str))
    else:
        echo_result(summary)


def _model_file(prompt: dict[str, Any]) -> Path | None:
    """The diffusion model file a prompt loads (the first model loader's), if it names one that exists."""
    from comfy_nodes import host
    from comfy_nodes.errors import ModelNotFoundError

    for node in prompt.values():
        if node.get("class_type") == "WanI2VModelLoader" and isinstance(node["inputs"].get("model_name"), str):
            try:
                return host.find_model("diffusion_models", node["inputs"]["model_name"])
            except ModelNotFoundError:
                return None
    return None


def _workflow_and_image(args: list[str], image: Path | None) -> tuple[str | None, Path]:
    """(workflow or None for the default, start image) from `[WORKFLOW] IMAGE` and --image."""
    if len(args) > 2 or (image is not None and len(args) > 1):
        raise typer.BadParameter(
            f"expected [WORKFLOW] IMAGE, got {len(args)} arguments: {' '.join(args)}", param_hint="[WORKFLOW] IMAGE"
        )
    if image is not None:
        return (args[0] if args else None), image
    if len(args) == 2:
        return args[0], Path(args[1])
    if len(args) == 1 and not _looks_like_workflow(args[0]):
        return None, Path(args[0])
    raise typer.BadParameter(
        "give the start image, e.g. `wan-i2v run cat.png --prompt \"...\"` or `wan-i2v run i2v_720p cat.png ...`.",
        param_hint="IMAGE",
    )


def _looks_like_workflow(arg: str) -> bool:
    """A released name or a .json file, rather than an image path."""
    from ..workflows import list_workflows

    if arg.lower().endswith(".json"):
        return True
    if Path(arg).suffix:
        return False
    return arg.partition("@")[0] in {w.name for w in list_workflows()}


def echo_result(summary: dict[str, Any]) -> None:
    """The human-readable lines of a finished run."""
    info = summary["video_info"]
    typer.echo(f"Video:  {summary['video']}  ({info['num_frames']} frames, {info['width']}x{info['height']}, "
               f"{info['codec']}; took {summary['total_seconds']} s)")
    if summary["poster"]:
        typer.echo(f"Poster: {summary['poster']}")

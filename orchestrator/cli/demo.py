"""`wan-i2v demo`: the main job on a machine without real weights.

Makes the tiny demo model if missing, draws a sample image, runs the released
480p workflow on it at a small size and prints where the MP4 is. The demo
model has random weights, so the video is noise: it shows the whole path works.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .errors import report_errors
from ..runner import DEMO_MODEL_PARAMS, DEMO_SIZE
from .run import Progress, echo_result

# Small enough for a CPU in well under a minute (the demo preset's size); real weights use the presets.
DEMO_PARAMS = {**DEMO_SIZE, "seed": 42}


def demo_model_params() -> dict[str, str]:
    """The released workflows' model parameters pointing at the demo files."""
    return dict(DEMO_MODEL_PARAMS)


def demo(
    models: Annotated[Path, typer.Option("--models", help="models folder; the demo model is made here if missing.")] = Path("models"),
    data: Annotated[Path, typer.Option("--data", help="folder for the sample image and the video.")] = Path("data"),
    prompt: Annotated[str, typer.Option("--prompt", help="Prompt for the demo run.")] = "a sailing boat drifts on a calm sea at sunset",
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON summary as the last line.")] = False,
) -> None:
    """Make the demo model if needed and generate one video from a drawn sample image (noise: random weights)."""
    from comfy_nodes.models import demo as demo_model

    from ..errors import RunError
    from ..runner import RunRequest, run_workflow
    from ..sample_image import draw_sample_image

    with report_errors(json_):
        if models.exists() and not models.is_dir():
            raise RunError(f"--models {models} is a file; give a folder (the demo model is made there if missing).")
        if not demo_model.is_complete(models):
            typer.echo(f"Making the demo model in {models} ...")
            demo_model.make_demo_model(models)
        image = draw_sample_image(data / "demo" / "sample.png")
        typer.echo(f"Sample image: {image}")
        typer.echo(demo_model.DEMO_NOTICE)
        request = RunRequest(
            workflow="i2v_480p",
            image=image,
            out=data / "demo" / "demo.mp4",
            models=models,
            params={**demo_model_params(), **DEMO_PARAMS, "prompt": prompt},
        )
        progress = Progress()
        summary = run_workflow(request, progress)
        progress.done()
    echo_result(summary)
    if json_:
        typer.echo(json.dumps(summary, default=str))

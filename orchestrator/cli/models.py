"""`wan-i2v models ...`: the demo model and what is on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Model files: make the tiny demo model, list what a models folder holds.", no_args_is_help=True)


@app.command("make-demo")
def make_demo(
    directory: Annotated[Path, typer.Argument(help="models folder to write into (ComfyUI layout: diffusion_models/, vae/, ...)")],
    force: Annotated[bool, typer.Option(help="Rewrite the files even if they exist.")] = False,
) -> None:
    """Write a tiny random-weight WAN 2.1 I2V model in both layouts. Its videos are noise."""
    from comfy_nodes.models import demo

    if directory.exists() and not directory.is_dir():
        typer.echo(f"Error: {directory} is a file; give a folder to write the demo model into.", err=True)
        raise typer.Exit(code=1)
    if demo.is_complete(directory) and not force:
        typer.echo(f"Demo model already in {directory} (use --force to rewrite).")
    else:
        demo.make_demo_model(directory)
        typer.echo(f"Wrote the demo model to {directory}.")
    for kind, path in demo.demo_paths(directory).items():
        typer.echo(f"  {kind:17} {path}")
    typer.echo(demo.DEMO_NOTICE)


@app.command("list")
def list_models(
    models: Annotated[Path, typer.Option("--models", help="models folder (default: $WAN_MODELS_DIR or ./models)")] = None,
) -> None:
    """List model files and diffusers folders by kind."""
    from comfy_nodes import host

    if models is not None:
        if not models.is_dir():
            typer.echo(f"Error: models folder {models} does not exist.", err=True)
            raise typer.Exit(code=1)
        host.set_models_dir(models)
    typer.echo(f"Models folder: {host.models_dir()}")
    for kind in host.MODEL_KINDS:
        names = host.list_models_diffusers() if kind == "diffusers" else [
            n for n in host.list_models(kind) if n not in host.list_models_diffusers()
        ]
        typer.echo(f"{kind}:")
        for name in names or ["(none)"]:
            typer.echo(f"  {name}")

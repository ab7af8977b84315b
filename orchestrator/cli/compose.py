"""`wan-i2v compose --gpus N [--hosts HOST ...]`: print a compose override for more GPUs."""

from __future__ import annotations

from typing import Annotated

import typer


def compose(
    gpus: Annotated[
        int, typer.Option("--gpus", help="GPUs on this machine (or ComfyUI instances per host with --hosts).")
    ],
    hosts: Annotated[
        list[str] | None,
        typer.Option(
            "--hosts",
            help="A machine whose ComfyUI instances (ports 8188, 8189, ...) the workers here drive; repeat it, "
            "or give a comma list. Without it the GPUs are local.",
        ),
    ] = None,
) -> None:
    """Print a compose override (YAML) to use with docker/docker-compose.yml, e.g. > docker-compose.gpus.yml."""
    from orchestrator.deploy.compose import render_override
    from orchestrator.deploy.errors import DeployError

    names = [h.strip() for entry in hosts or [] for h in entry.split(",") if h.strip()]
    try:
        text = render_override(gpus, names or None)
    except DeployError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(text, nl=False)

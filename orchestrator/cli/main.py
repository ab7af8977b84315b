"""Entry point of the `wan-i2v` command."""

from __future__ import annotations

import typer

from . import comfy, demo, models, run, workflows

app = typer.Typer(
    name="wan-i2v",
    help="WAN 2.1 image-to-video: run workflows, make the demo model, serve a ComfyUI-compatible server.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("run")(run.run)
app.command("demo")(demo.demo)
app.add_typer(models.app, name="models")
app.add_typer(workflows.app, name="workflows")
app.add_typer(comfy.app, name="comfy")

if __name__ == "__main__":
    app()

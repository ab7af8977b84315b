"""Entry point of the `wan-i2v` command."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import typer

from . import client, comfy, compose, db, demo, models, run, serve, users, worker, workflows

app = typer.Typer(
    name="wan-i2v",
    help="WAN 2.1 image-to-video: run workflows, make the demo model, serve a ComfyUI-compatible server.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"wan-i2v {version('wan-i2v')}")
        except PackageNotFoundError:  # run from a checkout that was never installed
            typer.echo("wan-i2v (not installed)")
        raise typer.Exit()


@app.callback()
def main(
    show_version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """WAN 2.1 image-to-video: run workflows, make the demo model, serve a ComfyUI-compatible server."""


app.command("run", cls=run.RunCommand, epilog=run.EPILOG)(run.run)
app.command("demo")(demo.demo)
app.add_typer(models.app, name="models")
app.add_typer(workflows.app, name="workflows")
app.add_typer(comfy.app, name="comfy")
app.command("worker")(worker.worker)
app.command("serve")(serve.serve)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.command("login")(client.login)
app.command("submit")(client.submit)
app.command("status")(client.status)
app.command("download")(client.download)
app.command("cancel")(client.cancel)
app.command("openapi")(client.openapi)
app.command("compose")(compose.compose)

if __name__ == "__main__":
    app()

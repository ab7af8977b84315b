"""`wan-i2v worker --comfy URL --queue gpuN`: the Celery worker that drives one ComfyUI instance."""

from __future__ import annotations

import os
from typing import Annotated

import typer


def worker(
    comfy: Annotated[str, typer.Option("--comfy", help="Base URL of the ComfyUI instance this worker drives.")],
    queue: Annotated[str, typer.Option("--queue", help="The instance's queue name (gpu0, gpu1, ...).")],
    concurrency: Annotated[
        int, typer.Option(help="Jobs driven at once: 2 keeps the next prompt waiting in ComfyUI while one runs.")
    ] = 2,
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "info",
) -> None:
    """Consume QUEUE from BROKER_URL and run each job on the ComfyUI at --comfy (records go to DATABASE_URL)."""
    from orchestrator.dispatch import celery_app
    from orchestrator.dispatch.stores import settings_and_store

    try:
        settings, _ = settings_and_store()
        app = celery_app.make_celery(settings)
    except Exception as exc:  # configuration problems: say what to fix, no traceback
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    os.environ[celery_app.COMFY_ENV] = comfy.rstrip("/")
    os.environ[celery_app.QUEUE_ENV] = queue
    os.environ.setdefault("REMAP_SIGTERM", "SIGQUIT")  # a stop puts unacknowledged jobs straight back
    celery_app.install_reporter(app)
    app.worker_main(
        ["worker", "-Q", queue, "-c", str(concurrency), "-P", "prefork", "-n", f"{queue}@%h", "-l", loglevel,
         "--without-gossip", "--without-mingle", "--without-heartbeat"]
    )

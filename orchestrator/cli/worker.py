"""`wan-i2v worker`: serve the embedded ComfyUI-compatible worker."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer


def worker(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8188,
    models: Annotated[
        Path | None, typer.Option(help="Models folder in ComfyUI's layout (default: $WAN_MODELS_DIR or ./models).")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Folder for input/, output/ and temp/ (default: $WAN_DATA_DIR or ./data).")
    ] = None,
    max_upload_mb: Annotated[float, typer.Option(help="Largest accepted upload, in MB.")] = 100,
    max_history: Annotated[int, typer.Option(help="Finished prompts kept in /history.")] = 10000,
) -> None:
    """Serve ComfyUI's HTTP + websocket protocol with the WAN I2V nodes; models load when a prompt needs them."""
    import comfy_nodes
    from orchestrator.worker import WorkerConfig, create_app, serve

    # One line per prompt (done / interrupted / failed) for whoever runs the worker; no per-request lines.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

    models = models or Path(os.environ.get("WAN_MODELS_DIR", "models"))
    data = data or Path(os.environ.get("WAN_DATA_DIR", "data"))
    config = WorkerConfig(
        data_dir=data.resolve(), models_dir=models.resolve(), max_upload_mb=max_upload_mb, max_history=max_history
    )
    app = create_app(config, comfy_nodes.NODE_CLASS_MAPPINGS, comfy_nodes.NODE_DISPLAY_NAME_MAPPINGS)

    def ready(url: str) -> None:
        typer.echo(f"WAN I2V worker ({len(comfy_nodes.NODE_CLASS_MAPPINGS)} nodes) listening on {url}", err=False)
        typer.echo(f"  models: {config.models_dir}\n  data:   {config.data_dir}\nPress Ctrl-C to stop.")

    try:
        serve(app, host, port, on_ready=ready)
    except OSError as exc:
        typer.echo(f"Error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo("Stopped.")

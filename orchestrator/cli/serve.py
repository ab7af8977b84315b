"""`wan-i2v serve`: the orchestrator (API, page, dispatcher), with embedded ComfyUI instances if none are given."""

from __future__ import annotations

import logging
import os
import secrets
import socket
from pathlib import Path
from typing import Annotated

import typer

DEV_ADMIN = "admin"


def _dev_admin(settings) -> None:  # type: ignore[no-untyped-def]
    """In dev mode an admin exists; its password is kept in DATA_DIR/dev-admin.txt and printed."""
    from orchestrator.core.db import session_factory
    from orchestrator.users.store import UserStore

    users = UserStore(session_factory(settings.DATABASE_URL))
    note = Path(settings.DATA_DIR) / "dev-admin.txt"
    if users.by_name(DEV_ADMIN) is None:
        password = secrets.token_urlsafe(12)
        users.add(DEV_ADMIN, password, role="admin")
        note.parent.mkdir(parents=True, exist_ok=True)
        note.write_text(password + "\n")
        note.chmod(0o600)
    password = note.read_text().strip() if note.is_file() else "(set earlier; change it with wan-i2v users passwd admin)"
    typer.echo(f"Dev admin: user '{DEV_ADMIN}', password '{password}' (kept in {note})")


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: $HOST or 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: $PORT or 8000).")] = None,
    comfy: Annotated[list[str] | None, typer.Option("--comfy", help="A ComfyUI base URL; repeat for several GPUs.")] = None,
    embedded: Annotated[int | None, typer.Option(help="Embedded instances to start when no --comfy is given.")] = None,
    dev: Annotated[bool, typer.Option(help="Dev mode: a built-in JWT secret and a dev admin. Never in production.")] = False,
) -> None:
    """Run the orchestrator: the API under /api, the web page at /, and the dispatcher."""
    import uvicorn

    from orchestrator.comfy.launch import ComfyLaunchError, start_instances, stop_instances, wait_until_ready
    from orchestrator.core.db import upgrade
    from orchestrator.core.embedded import embedded_specs
    from orchestrator.core.errors import ServiceError
    from orchestrator.core.settings import Settings
    from orchestrator.errors import ConfigError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "httpx"):  # one line per migration step / per ComfyUI probe is noise here
        logging.getLogger(noisy).setLevel(logging.WARNING)
    overrides: dict[str, object] = {}
    if dev:
        overrides["DEV_MODE"] = True
    if comfy:
        overrides["COMFYUI_URLS"] = ",".join(comfy)
    if embedded is not None:
        overrides["EMBEDDED_COMFY"] = embedded
    settings = Settings(**overrides)  # type: ignore[arg-type]
    host, port = host or settings.HOST, port or settings.PORT
    if not _can_listen(host, port):  # before the embedded instances start, not after them
        typer.echo(f"Error: port {port} on {host} is already in use; pick another --port (make run: PORT=...) or stop "
                   "what is using it.", err=True)  # fmt: skip
        raise typer.Exit(code=1)
    try:
        settings.signing_secret()
        upgrade(settings.DATABASE_URL)
    except ServiceError as exc:
        typer.echo(f"Error: {exc.message}", err=True)
        raise typer.Exit(code=1) from None
    if settings.DEV_MODE:
        typer.echo("DEV MODE: built-in JWT secret, dev admin; do not expose this server.")
        _dev_admin(settings)
    instances = []
    if settings.executor == "celery" and settings.EMBEDDED_COMFY > 0 and not settings.comfyui_urls:
        # Celery workers drive their own ComfyUI; an embedded instance here would have no worker.
        typer.echo("BROKER_URL is set: no embedded instances; start `wan-i2v worker --comfy URL --queue gpuN`.")
    elif not settings.comfyui_urls and settings.EMBEDDED_COMFY > 0:
        try:
            specs = embedded_specs(settings.EMBEDDED_COMFY, settings.EMBEDDED_COMFY_PORT, Path(settings.WAN_MODELS_DIR),
                                   Path(settings.DATA_DIR), cp_ulysses=settings.WAN_CP_ULYSSES)  # fmt: skip
        except ConfigError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(code=1) from None
        typer.echo(f"Starting {len(specs)} embedded ComfyUI-compatible instance(s) on port(s) "
                   f"{', '.join(str(s.port) for s in specs)} ...")
        try:
            instances = start_instances(specs, port_setting="EMBEDDED_COMFY_PORT (make run: COMFY_PORT=...)")
            wait_until_ready(instances, timeout=120)
        except ComfyLaunchError as exc:
            stop_instances(instances)
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(code=1) from None
        settings = settings.model_copy(update={"COMFYUI_URLS": ",".join(s.url for s in specs)})
        os.environ["COMFYUI_URLS"] = settings.COMFYUI_URLS
    from orchestrator.api.app import create_app

    app = create_app(settings, dispatch=True, migrate=False, on_stop=lambda: stop_instances(instances))
    typer.echo(f"Orchestrator on http://{host}:{port}/ (API docs at /docs), executor: {settings.executor}, "
               f"ComfyUI: {settings.COMFYUI_URLS or '(reported by the Celery workers)'}")
    try:
        uvicorn.run(app, host=host, port=port, access_log=False, log_level="info")
    finally:
        stop_instances(instances)


def _can_listen(host: str, port: int) -> bool:
    """Whether this process could listen on host:port now (as uvicorn will, with SO_REUSEADDR)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


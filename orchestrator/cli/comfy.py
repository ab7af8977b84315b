"""`wan-i2v comfy serve|install|launch`: the embedded ComfyUI-compatible server, or the node pack in a real ComfyUI."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import RunError

if TYPE_CHECKING:
    from orchestrator.comfy.server import ServerConfig
    from orchestrator.comfy.server.ranks import Leader

app = typer.Typer(
    help="ComfyUI: serve the embedded ComfyUI-compatible server, or install the pack into a real ComfyUI and launch it per GPU.", no_args_is_help=True
)

ComfyDir = Annotated[Path, typer.Option("--comfyui-dir", help="The ComfyUI checkout (the folder holding main.py).")]
PythonOpt = Annotated[
    Path | None,
    typer.Option(
        "--python", help="Python that runs ComfyUI (default: COMFYUI_DIR/.venv/bin/python if present, else this one)."
    ),
]


@app.command("install")
def install(
    comfyui_dir: ComfyDir,
    copy: Annotated[bool, typer.Option("--copy", help="Copy the pack instead of linking to it.")] = False,
    python: PythonOpt = None,
    name: Annotated[str, typer.Option(help="Folder name under custom_nodes/.")] = "comfy_nodes",
    force: Annotated[bool, typer.Option(help="Replace whatever is already at custom_nodes/NAME.")] = False,
    requirements: Annotated[
        bool, typer.Option(help="pip-install the pack's requirements into ComfyUI's Python.")
    ] = True,
) -> None:
    """Link (or copy) the WAN I2V node pack into COMFYUI_DIR/custom_nodes and install its requirements."""
    from orchestrator.comfy import install as comfy_install

    try:
        target = comfy_install.install_pack(comfyui_dir, copy=copy, name=name, force=force)
        typer.echo(f"{'Copied' if copy else 'Linked'} the node pack to {target}.")
        if requirements:
            interpreter = python or comfy_install.default_python(comfyui_dir)
            typer.echo(f"Installing the pack's requirements with {interpreter} ...")
            comfy_install.install_requirements(interpreter)
    except comfy_install.ComfyInstallError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo("Done. Restart ComfyUI to load the nodes (category 'WAN I2V').")


@app.command("launch")
def launch(
    comfyui_dir: ComfyDir,
    gpus: Annotated[str, typer.Option(help="GPU indices, one ComfyUI each (ignored with --cpu).")] = "0",
    base_port: Annotated[int, typer.Option(help="Port of the first instance; the next ones count up from it.")] = 8188,
    python: PythonOpt = None,
    listen: Annotated[str, typer.Option(help="Address the instances listen on.")] = "127.0.0.1",
    cpu: Annotated[bool, typer.Option("--cpu", help="Run a single instance on the CPU.")] = False,
    work_dir: Annotated[
        Path | None,
        typer.Option(help="Per-instance output/temp folders and logs (default: COMFYUI_DIR/wan_i2v_instances)."),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each instance to answer.")] = 300.0,
) -> None:
    """Start one ComfyUI per GPU (main.py --cuda-device N --port BASE+i), wait until all answer, stop all on Ctrl-C."""
    from orchestrator.comfy import install as comfy_install, launch as comfy_launch

    try:
        checkout = comfy_install.check_checkout(comfyui_dir)
        specs = comfy_launch.plan_instances(
            checkout,
            python=python or comfy_install.default_python(checkout),
            gpus=[] if cpu else comfy_launch.parse_gpus(gpus),
            cpu=cpu,
            base_port=base_port,
            listen=listen,
            work_dir=work_dir,
        )
        instances = comfy_launch.start_instances(specs)
    except (comfy_install.ComfyInstallError, comfy_launch.ComfyLaunchError) as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(code=1) from None

    try:
        typer.echo(f"Starting {len(instances)} ComfyUI instance(s); logs in {specs[0].log_path.parent.parent} ...")
        comfy_launch.wait_until_ready(instances, timeout=timeout)
        for instance in instances:
            typer.echo(f"  {instance.spec.label}: {instance.spec.url}  (log: {instance.spec.log_path})")
        typer.echo("Ready. Press Ctrl-C to stop them all.")
        while (dead := comfy_launch.first_exited(instances)) is None:
            time.sleep(1.0)
        spec = dead.spec
        typer.echo(
            f"Error: ComfyUI on port {spec.port} exited with code {dead.process.returncode}; see {spec.log_path}.",
            err=True,
        )
        raise typer.Exit(code=1)
    except comfy_launch.ComfyLaunchError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    except KeyboardInterrupt:
        typer.echo("\nStopping ...")
    finally:
        comfy_launch.stop_instances(instances)
    typer.echo("Stopped.")


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8188,
    models: Annotated[
        Path | None, typer.Option(help="Models folder in ComfyUI's layout (default: $WAN_MODELS_DIR or ./models).")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Folder for input/, output/ and temp/ (default: $WAN_DATA_DIR or ./data; `wan-i2v "
                     "serve`, which `make run` uses, passes DATA_DIR/comfy/gpuN to its embedded instances).")
    ] = None,
    max_upload_mb: Annotated[float, typer.Option(help="Largest accepted upload, in MB.")] = 100,
    max_history: Annotated[int, typer.Option(help="Finished prompts kept in /history.")] = 10000,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(help="Also answer requests whose Host is NAME (repeatable; * for any). Loopback names "
                     "and the --host address always are; WAN_I2V_ALLOWED_HOSTS adds more."),
    ] = None,
    cp_ulysses: Annotated[
        int,
        typer.Option("--cp-ulysses", envvar="WAN_CP_ULYSSES", min=1, help="Run every prompt on N GPUs of this "
                     "machine, one process per GPU, splitting each video over them (context parallelism). N must "
                     "divide the model's attention heads: 2, 4, 5 or 8 for WAN 14B."),
    ] = 1,
) -> None:
    """Serve ComfyUI's HTTP + websocket protocol with the WAN I2V nodes; models load when a prompt needs them."""
    from . import ranks

    as_rank = ranks.is_rank()
    if not as_rank or ranks.rank() == 0:
        taken = _bind_error(host, port)  # before torch loads: a busy port is reported at once
        if taken:
            typer.echo(f"Error: cannot listen on {host}:{port}: {taken}; pick another --port or stop what uses it.", err=True)
            raise typer.Exit(code=1)
    if cp_ulysses > 1 and not as_rank:
        try:
            ranks.check_gpus(cp_ulysses)
        except RunError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(code=1) from None
        raise typer.Exit(ranks.start_ranks(cp_ulysses, sys.argv[1:]))
    from orchestrator.comfy.server import ServerConfig

    # One line per prompt (done / interrupted / failed) for whoever runs the server; no per-request lines.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

    models = models or Path(os.environ.get("WAN_MODELS_DIR", "models"))
    data = data or Path(os.environ.get("WAN_DATA_DIR", "data"))
    config = ServerConfig(
        data_dir=data.resolve(), models_dir=models.resolve(), max_upload_mb=max_upload_mb, max_history=max_history
    )
    if allow_host:
        config.allowed_hosts = (*config.allowed_hosts, *(name.strip().lower() for name in allow_host if name.strip()))
    if as_rank:
        with ranks.process_group():
            _serve_rank(config, host, port)
        return
    _serve(config, host, port)


def _serve_rank(config: ServerConfig, host: str, port: int) -> None:
    """One rank of a server on several GPUs: rank 0 serves and leads, the others follow it."""
    import comfy_nodes
    from orchestrator.comfy.server import ranks as server_ranks

    from . import ranks

    group = server_ranks.control_group()
    if ranks.rank() == 0:
        leader = server_ranks.Leader(group)
        _serve(config, host, port, leader)
        if leader.lost is not None:
            typer.echo(f"Error: the ranks are out of step ({leader.lost}); stopping every rank.", err=True)
            _exit_now(1)
        return
    from comfy_nodes import host as pack_host

    # Ctrl-C reaches every rank; a follower stops when rank 0 says so, after rank 0's clean shutdown.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pack_host.set_models_dir(config.models_dir)
    try:
        server_ranks.Follower(group, comfy_nodes.NODE_CLASS_MAPPINGS, config.data_dir / "input").serve()
    except server_ranks.RankOutOfStep as exc:
        typer.echo(f"Error: rank {ranks.rank()} is out of step with rank 0 ({exc}); stopping every rank.", err=True)
        _exit_now(1)


def _exit_now(code: int) -> None:
    """Exit without the process group's teardown: a rank still in an exchange can hold it forever."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _serve(config: ServerConfig, host: str, port: int, leader: Leader | None = None) -> None:
    import comfy_nodes
    from orchestrator.comfy.server import create_app
    from orchestrator.comfy.server import serve as serve_app

    app = create_app(config, comfy_nodes.NODE_CLASS_MAPPINGS, comfy_nodes.NODE_DISPLAY_NAME_MAPPINGS, leader=leader)

    def ready(url: str) -> None:
        nodes = len(comfy_nodes.NODE_CLASS_MAPPINGS)
        typer.echo(f"WAN I2V ComfyUI-compatible server ({nodes} nodes) listening on {url}")
        typer.echo(f"  models: {config.models_dir}\n  data:   {config.data_dir}\nPress Ctrl-C to stop.")

    try:
        serve_app(app, host, port, on_ready=ready)
    except OSError as exc:
        typer.echo(f"Error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo("Stopped.")


def _bind_error(host: str, port: int) -> str | None:
    """Why (host, port) cannot be listened on, or None; the server binds it again right after."""
    if port == 0:
        return None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does: TIME_WAIT is no obstacle
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None

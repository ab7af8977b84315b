"""Start one ComfyUI process per GPU (or one on the CPU), wait until each
answers, and stop them all cleanly.

Each instance gets its own port (`base_port + position`), output folder, temp
folder and log file under `work_dir/<label>/`, so instances never overwrite
each other's files or wipe each other's temp folder on start.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from orchestrator.errors import OrchestratorError

LOG_TAIL_LINES = 20


class ComfyLaunchError(OrchestratorError):
    """An instance could not be started or did not become ready; the message names its port and log file."""


@dataclass
class InstanceSpec:
    label: str  # "gpu0", "gpu1", ... or "cpu"
    port: int
    argv: list[str]
    cwd: Path
    log_path: Path
    output_dir: Path
    probe_host: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.probe_host}:{self.port}"


@dataclass
class Instance:
    spec: InstanceSpec
    process: subprocess.Popen[bytes]
    log: IO[bytes]


def parse_gpus(text: str) -> list[int]:
    """`"0,1"` -> `[0, 1]`."""
    try:
        gpus = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise ComfyLaunchError(
            f"--gpus must be a comma-separated list of GPU indices such as 0,1 (got {text!r})."
        ) from exc
    if not gpus or any(g < 0 for g in gpus) or len(set(gpus)) != len(gpus):
        raise ComfyLaunchError(f"--gpus must list distinct GPU indices such as 0,1 (got {text!r}).")
    return gpus


def _probe_host(listen: str) -> str:
    # A server listening on every address is reached through loopback.
    return "127.0.0.1" if listen in ("0.0.0.0", "", "::") else listen


def plan_instances(
    comfyui_dir: Path,
    *,
    python: Path,
    gpus: Sequence[int] = (0,),
    cpu: bool = False,
    base_port: int = 8188,
    listen: str = "127.0.0.1",
    work_dir: Path | None = None,
    extra_args: Sequence[str] = (),
) -> list[InstanceSpec]:
    """The command lines to run: one per GPU, or a single `--cpu` instance."""
    comfyui_dir = Path(comfyui_dir).resolve()
    work_dir = Path(work_dir or comfyui_dir / "wan_i2v_instances").resolve()
    devices: list[int | None] = [None] if cpu else list(gpus)
    specs = []
    for position, gpu in enumerate(devices):
        label = "cpu" if gpu is None else f"gpu{gpu}"
        port = base_port + position
        folder = work_dir / label
        argv = [
            str(python),
            "main.py",
            "--listen",
            listen,
            "--port",
            str(port),
            "--disable-auto-launch",
            "--output-directory",
            str(folder / "output"),
            "--temp-directory",
            str(folder),  # ComfyUI appends /temp
        ]
        argv += ["--cpu"] if gpu is None else ["--cuda-device", str(gpu)]
        argv += list(extra_args)
        specs.append(
            InstanceSpec(label, port, argv, comfyui_dir, folder / "comfyui.log", folder / "output", _probe_host(listen))
        )
    return specs


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _die_with_parent() -> None:
    """In the child (Linux): SIGTERM when the starting process dies, even by SIGKILL, so no orphan keeps a GPU."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start_instances(specs: Sequence[InstanceSpec], port_setting: str = "--base-port") -> list[Instance]:
    """Start every instance in its own process group, output going to its log file.
    `port_setting` names what the user changes to move them (an option or a variable)."""
    for spec in specs:
        if _port_in_use(spec.probe_host, spec.port):
            raise ComfyLaunchError(
                f"Port {spec.port} is already in use; pick another {port_setting} or stop what is using it."
            )
    instances: list[Instance] = []
    try:
        for spec in specs:
            spec.output_dir.mkdir(parents=True, exist_ok=True)
            log = open(spec.log_path, "ab")
            env = {**os.environ, **spec.env}
            process = subprocess.Popen(
                spec.argv,
                cwd=spec.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
            instances.append(Instance(spec, process, log))
    except OSError as exc:
        stop_instances(instances)
        raise ComfyLaunchError(f"Could not start {spec.argv[0]} for port {spec.port}: {exc}") from exc
    return instances


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/system_stats", timeout=2) as response:
            return response.status == 200 and "system" in json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until_ready(instances: Sequence[Instance], timeout: float = 300.0, poll: float = 0.25) -> None:
    """Return once every instance answers GET /system_stats; raise if one exits or the time runs out."""
    deadline = time.monotonic() + timeout
    waiting = list(instances)
    while waiting:
        for instance in list(waiting):
            code = instance.process.poll()
            spec = instance.spec
            if code is not None:
                raise ComfyLaunchError(
                    f"ComfyUI for port {spec.port} ({spec.label}) exited with code {code} before it was ready. "
                    f"Log: {spec.log_path}\n{log_tail(spec.log_path)}"
                )
            if _answers(spec.url):
                waiting.remove(instance)
        if waiting and time.monotonic() > deadline:
            ports = ", ".join(f"{i.spec.port} (log: {i.spec.log_path})" for i in waiting)
            raise ComfyLaunchError(f"ComfyUI did not answer /system_stats within {timeout:g} s on port {ports}.")
        if waiting:
            time.sleep(poll)


def _signal_group(instance: Instance, sig: signal.Signals) -> None:
    try:
        os.killpg(instance.process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_all(instances: Sequence[Instance], timeout: float) -> list[Instance]:
    """Wait up to `timeout` s; return those still running."""
    deadline = time.monotonic() + timeout
    running = [i for i in instances if i.process.poll() is None]
    while running and time.monotonic() < deadline:
        time.sleep(0.05)
        running = [i for i in running if i.process.poll() is None]
    return running


def stop_instances(instances: Sequence[Instance], grace: float = 10.0) -> None:
    """SIGINT (ComfyUI's Ctrl-C), then SIGTERM, then SIGKILL, `grace` seconds apart."""
    running = [i for i in instances if i.process.poll() is None]
    for sig in (signal.SIGINT, signal.SIGTERM):
        for instance in running:
            _signal_group(instance, sig)
        running = _wait_all(running, grace)
    for instance in running:
        _signal_group(instance, signal.SIGKILL)
    for instance in instances:
        try:
            instance.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        instance.log.close()


def first_exited(instances: Sequence[Instance]) -> Instance | None:
    return next((i for i in instances if i.process.poll() is not None), None)

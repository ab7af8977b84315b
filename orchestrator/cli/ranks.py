"""`wan-i2v run --cp-ulysses N`: one video on N GPUs, one process (rank) per GPU.

The command starts N copies of itself with the usual torch.distributed variables (RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) and WAN_I2V_CP_ULYSSES=N. Every rank runs
the workflow's sampler; it splits each transformer pass over the ranks
(comfy_nodes/accel/context_parallel.py, docs/multi-gpu.md). Rank 0 encodes, sends the others the
embeddings, leads every pass (comfy_nodes/accel/rank_lead.py), reports, and decodes and writes the
video; the others only load the model and sample, quietly. When one rank fails the others are
stopped, since they would wait for it forever in the next exchange.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

from comfy_nodes.accel.context_parallel import CP_ENV, GLOO_ENV  # imports no torch

from ..errors import RunError

GRACE_S = 5.0  # after one rank failed or rank 0 ended, how long the others get to finish before they are stopped
STOP_S = 30.0  # on Ctrl-C or SIGTERM, how long rank 0 gets to stop cleanly (a server finishes its reply, tells the rest)


def is_rank() -> bool:
    """Whether this process is one of the ranks `start_ranks` started."""
    return CP_ENV in os.environ and "RANK" in os.environ


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


HEAD_DIM = 128  # every WAN 2.1 size uses 128-dim attention heads


def check_split(degree: int, parameters: dict[str, Any], model_file: Path | None) -> None:
    """What can be known before any rank starts: enough GPUs, a head count the degree divides, no
    FirstBlockCache. Raises RunError naming the problem and the fix."""
    if str(parameters.get("cache", "")) == "fbc":
        raise RunError(
            "--cp-ulysses cannot run with cache=fbc: each rank would judge its own share of the first block and "
            "the ranks could skip different steps. Use cache=magcache, cache=teacache or cache=none."
        )
    heads = _heads(model_file) if model_file is not None else None
    if heads is not None and heads % degree:
        raise RunError(f"--cp-ulysses {degree}: the model's attention heads ({heads}) do not divide into {degree} "
                       "ranks (WAN 14B has 40: use 2, 4, 5 or 8).")
    check_gpus(degree)


def check_gpus(degree: int) -> None:
    """One CUDA GPU per rank (unless GLOO_ENV asks for CPU ranks); RunError otherwise."""
    if os.environ.get(GLOO_ENV) != "1":
        from orchestrator.core.embedded import visible_gpus

        gpus = len(visible_gpus())
        if gpus < degree:
            raise RunError(f"--cp-ulysses {degree} needs {degree} CUDA GPUs, one per rank; this machine shows {gpus} "
                           "(nvidia-smi, CUDA_VISIBLE_DEVICES). Run without --cp-ulysses, or with a smaller N.")


def _heads(model_file: Path) -> int | None:
    """The transformer's attention heads, read from its file's header or its folder's config (no weights)."""
    import json

    from orchestrator.deploy.check import transformer_dim
    from orchestrator.deploy.errors import SafetensorsHeaderError
    from orchestrator.deploy.safetensors_header import read_header

    if model_file.is_dir():  # a diffusers folder
        try:
            return int(json.loads((model_file / "transformer" / "config.json").read_text())["num_attention_heads"])
        except (OSError, ValueError, KeyError):
            return None
    try:
        dim = transformer_dim(read_header(model_file))
    except (SafetensorsHeaderError, OSError):
        return None
    return dim // HEAD_DIM if dim else None


def start_ranks(degree: int, argv: list[str]) -> int:
    """Run `wan-i2v ARGV` as `degree` ranks on this machine; returns the exit status (rank 0's, or the
    first failure's). Ranks other than 0 write their output to a log that is shown if they fail."""
    with socket.socket() as sock:  # a free port for the ranks' rendezvous
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    logs = Path(tempfile.mkdtemp(prefix="wan-i2v-ranks-"))
    command = [sys.executable, "-m", "orchestrator.cli.main", *argv]
    processes: list[subprocess.Popen] = []
    failed: int | None = None
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop_requested) if main else None  # SIGTERM stops them as Ctrl-C does
    try:
        for r in range(degree):
            env = {**os.environ, CP_ENV: str(degree), "RANK": str(r), "LOCAL_RANK": str(r),
                   "WORLD_SIZE": str(degree), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}  # fmt: skip
            quiet = None if r == 0 else (logs / f"rank{r}.log").open("w")
            processes.append(subprocess.Popen(command, env=env, stdout=quiet, stderr=quiet))
        try:
            failed = _wait(processes)
        except KeyboardInterrupt:  # rank 0 stops first (a server tells the others), then the rest
            with contextlib.suppress(ProcessLookupError):
                processes[0].send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                processes[0].wait(timeout=STOP_S)
        _settle(processes)  # the others may be ending, or reporting the same error: give them a moment
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
    code = processes[0].returncode
    if failed is None:
        return code or 0
    # Every follower that failed on its own (not stopped here) says why; rank 0 wrote to the terminal.
    for r, process in enumerate(processes[1:], start=1):
        if process.returncode not in (0, None, -signal.SIGTERM):
            log = (logs / f"rank{r}.log").read_text(errors="replace").strip().splitlines()
            print(f"Rank {r} of {degree} failed:", *log[-5:], sep="\n", file=sys.stderr)
    if code in (0, None, -signal.SIGTERM):
        return processes[failed].returncode or 1
    return code


def _stop_requested(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _settle(processes: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline and any(p.poll() is None for p in processes):
        time.sleep(0.1)


def _wait(processes: list[subprocess.Popen]) -> int | None:
    """Until every rank ended, or one failed (then its index). None when all succeeded."""
    while True:
        codes = [p.poll() for p in processes]
        for index, code in enumerate(codes):
            if code not in (None, 0):
                return index
        if all(code == 0 for code in codes):
            return None
        time.sleep(0.1)


@contextlib.contextmanager
def leading() -> Iterator[None]:
    """Rank 0's run: it leads the others through the sampler and tells them when the run ended, however it ended."""
    from comfy_nodes.accel import context_parallel, rank_lead

    lead = rank_lead.Lead(rank_lead.control_group())
    context_parallel.set_agreement(lead.agree)
    try:
        yield
    finally:
        context_parallel.set_agreement(None)
        lead.end(context_parallel.failed_inside_pass())
        rank_lead.leave(lead.group)


def following(part: Callable[[], None]) -> NoReturn:
    """A rank after the first: `part` (the sampler and its model) as rank 0 leads it, then rank 0's end;
    then this process exits.

    A failure of the run is rank 0's to report; one of this rank's own that leaves it out of step
    raises RankOutOfStep (the launcher then stops every rank)."""
    from comfy_nodes.accel import rank_lead

    follow = rank_lead.Follow(rank_lead.control_group())
    follow.start()
    try:
        part()
    except Exception as exc:
        print(f"rank {rank()}: the run ended here with: {exc}", file=sys.stderr)
    follow.finish("run")
    rank_lead.leave(follow.group)
    # Gone without tearing the groups down: their teardown racing rank 0's exit (rank 0 holds the
    # store) can abort in gloo's threads. Rank 0 tears its side down alone, as after any follower's exit.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@contextlib.contextmanager
def process_group() -> Iterator[None]:
    """Inside a rank: this rank's GPU and the process group (NCCL on GPUs, gloo on the CPU)."""
    import torch
    import torch.distributed as dist

    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()

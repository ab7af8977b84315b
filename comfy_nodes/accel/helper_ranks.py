"""One video on several GPUs inside a real ComfyUI: the sampler starts helper ranks of its own.

ComfyUI runs one process, and its executor cannot run a prompt in others. So when ComfyUI is
started with WAN_I2V_CP_ULYSSES=N, the first sampler run starts N-1 helper processes (ranks
1..N-1, one GPU each) and makes ComfyUI's own process rank 0 of their process group. Each
sampler run then sends the helpers a job: the part of the graph that builds the sampler's model
(the pack's own loader, LoRA and acceleration nodes), the folders ComfyUI finds model files in,
and the sampler's settings. rank_lead.py sends them the embeddings (only ComfyUI encodes) and
leads every pass. A helper keeps the model it built while that part of the graph stays the same.

The helpers stop with ComfyUI (each watches its parent). When they fall out of step, or one
dies, ComfyUI's process stops them all, reports the run as failed with the helpers' last log
lines, and the next run starts fresh ones. Processes started with torch.distributed's variables
already set (the embedded server's ranks, `wan-i2v run --cp-ulysses`) lead their own ranks and
start no helpers.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from .. import host
from ..errors import ParameterError, RankOutOfStep
from . import context_parallel
from .rank_lead import Follow, Lead, control_group

log = logging.getLogger(__name__)

PACK_DIR = Path(__file__).parent.parent  # as imported (a link in custom_nodes/ stays a link)
JOIN_TIMEOUT = timedelta(minutes=5)  # the helpers import torch and the pack before they join
PARENT_ENV = "WAN_I2V_HELPER_PARENT"
AFTER_A_LOSS = ("New helpers start with the next run; unload the models first (Unload Models, or POST /free), as the "
                "model was split over the old ones.")  # fmt: skip


def wanted() -> int:
    """The number of ranks a sampler run in this process leads itself (1: none, or ranks started elsewhere)."""
    degree = context_parallel.requested_degree()
    return degree if degree > 1 and "RANK" not in os.environ else 1


class Helpers:
    """Ranks 1..N-1 as seen from rank 0 (this process)."""

    def __init__(self, degree: int) -> None:
        import torch
        import torch.distributed as dist

        self.degree = degree
        self.logs = Path(tempfile.mkdtemp(prefix="wan-i2v-helpers-"))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.processes = [self._spawn(rank, port) for rank in range(1, degree)]
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        try:
            dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=degree,
                                    timeout=JOIN_TIMEOUT)  # fmt: skip
            self.lead = Lead(control_group())
        except Exception as exc:
            self.close()
            raise ParameterError(f"The {degree - 1} helper rank(s) for context parallelism did not start: {exc}. {self.tail()}") from exc

    def _spawn(self, rank: int, port: int) -> subprocess.Popen:
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(self.degree),
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), PARENT_ENV: str(os.getpid())}  # fmt: skip
        # Imported by its folder's name from the folder above it (ComfyUI's custom_nodes/), away from
        # ComfyUI's own modules, so that the helper runs the pack as the CLI does.
        script = f"import importlib; importlib.import_module({PACK_DIR.name!r} + '.accel.helper_ranks').serve()"
        output = (self.logs / f"rank{rank}.log").open("w")
        return subprocess.Popen([sys.executable, "-c", script], cwd=PACK_DIR.parent, env=env, stdout=output,
                                stderr=subprocess.STDOUT)  # fmt: skip

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.processes)

    def tail(self) -> str:
        lines = []
        for rank, process in enumerate(self.processes, start=1):
            text = (self.logs / f"rank{rank}.log").read_text(errors="replace").strip().splitlines()
            state = "running" if process.poll() is None else f"exited with {process.returncode}"
            lines.append(f"Helper rank {rank} ({state}): " + (" | ".join(text[-3:]) or "no output"))
        return " ".join(lines)

    def close(self) -> None:
        """Stop every helper and leave the process group, so that the next run can start afresh."""
        import torch.distributed as dist

        for process in self.processes:
            if process.poll() is None:
                process.kill()
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        if dist.is_initialized():
            with contextlib.suppress(Exception):
                dist.destroy_process_group()
        context_parallel.forget_split()


_helpers: Helpers | None = None
_lock = threading.Lock()  # ComfyUI runs one prompt at a time; this keeps a second caller out anyway


def model_part(prompt: Mapping[str, Any], sampler_id: str) -> tuple[dict[str, Any], list[Any]]:
    """The nodes of `prompt` that build the model of sampler `sampler_id`, and the sampler's model link."""
    from .. import NODE_CLASS_MAPPINGS

    link = prompt[sampler_id]["inputs"]["model"]
    part: dict[str, Any] = {}
    stack = [str(link[0])]
    while stack:
        node_id = stack.pop()
        if node_id in part:
            continue
        node = prompt[node_id]
        if node["class_type"] not in NODE_CLASS_MAPPINGS:
            raise ParameterError(
                f"Context parallelism builds the sampler's model on every GPU from this pack's own nodes, but node "
                f"{node_id} ({node['class_type']}) feeds it. Build the model with WAN I2V nodes only, or start "
                f"ComfyUI without {context_parallel.CP_ENV}."
            )
        part[node_id] = {"class_type": node["class_type"], "inputs": dict(node["inputs"])}
        stack += [str(v[0]) for v in node["inputs"].values() if _is_link(v)]
    return part, list(link)


@contextlib.contextmanager
def leading(prompt: Mapping[str, Any] | None, sampler_id: str | None, settings: dict[str, Any]) -> Iterator[None]:
    """Around a sampler run in ComfyUI's process: the helpers run the same sampler (nothing when not wanted)."""
    global _helpers
    degree = wanted()
    if degree < 2:
        yield
        return
    if prompt is None or sampler_id is None:
        raise ParameterError("Context parallelism in ComfyUI needs the sampler's prompt; run the sampler from a graph.")
    part, link = model_part(prompt, str(sampler_id))
    with _lock:
        if _helpers is not None and not (_helpers.alive() and _helpers.degree == degree):
            _helpers.close()
            _helpers = None
        if _helpers is None:
            _check_devices(degree)
            _helpers = Helpers(degree)
        helpers = _helpers
        folders = {kind: [str(f) for f in host.model_folders(kind)] for kind in host.MODEL_KINDS}
        try:
            helpers.lead.begin("sample", part, link, settings, folders)
            yield
        except RankOutOfStep:
            raise
        except Exception:
            if not helpers.alive():  # a helper died: what failed here is only its echo
                _helpers = None
                helpers.close()
                raise RankOutOfStep(f"A helper rank stopped during the run. {AFTER_A_LOSS} {helpers.tail()}") from None
            raise
        finally:
            context_parallel.set_agreement(None)
            if _helpers is helpers:
                try:
                    helpers.lead.end(context_parallel.failed_inside_pass())
                except Exception as exc:
                    _helpers = None
                    helpers.close()
                    raise RankOutOfStep(f"The helper ranks are out of step ({exc}). {AFTER_A_LOSS} {helpers.tail()}") from exc


def _check_devices(degree: int) -> None:
    import torch

    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        if count < degree:
            raise ParameterError(f"{context_parallel.CP_ENV}={degree} needs {degree} GPUs, one per rank; ComfyUI sees "
                                 f"{count}. Start ComfyUI with fewer ranks or on more GPUs.")  # fmt: skip
    elif os.environ.get(context_parallel.GLOO_ENV) != "1":
        raise ParameterError(f"{context_parallel.CP_ENV} needs one CUDA GPU per rank, and ComfyUI runs without one. "
                             f"Start ComfyUI without it ({context_parallel.GLOO_ENV}=1 splits on the CPU, slowly).")  # fmt: skip


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], int)


# ---------------------------------------------------------------- in a helper process


def serve() -> None:
    """A helper rank's life: join, then run every sampler job rank 0 sends until it goes away."""
    import torch
    import torch.distributed as dist

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    rank = int(os.environ["RANK"])
    threading.Thread(target=_watch_parent, args=(int(os.environ[PARENT_ENV]),), daemon=True).start()
    if torch.cuda.is_available():
        torch.cuda.set_device(rank)
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend, init_method=f"tcp://{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}",
                            rank=rank, world_size=int(os.environ["WORLD_SIZE"]), timeout=JOIN_TIMEOUT)  # fmt: skip
    follow = Follow(control_group())
    built: dict[str, Any] = {}  # the model of the last job's graph part, by that part
    while True:
        message = follow.receive()
        if message[0] != "sample":
            raise RankOutOfStep(f"told {message[0]!r} between sampler runs")
        _, part, link, settings, folders = message
        follow.start()
        try:
            host.set_model_folders(folders)
            model = _model(built, part, link)
            from ..nodes.sampling import WanI2VSampler

            # The embeddings and cache settings are rank 0's (context_parallel.from_rank_0).
            WanI2VSampler().sample(model, None, None, **settings)
        except Exception as exc:  # the run's error is rank 0's to report; this rank only follows it
            log.warning("sampler run failed on this rank: %s", exc)
        follow.finish("sampler run")


def _model(built: dict[str, Any], part: dict[str, Any], link: list[Any]) -> Any:
    """The WAN_MODEL that `part` builds, kept while the next job's part is the same."""
    from .. import NODE_CLASS_MAPPINGS

    key = json.dumps([part, link], sort_keys=True, default=repr)
    if key not in built:
        built.clear()
        gc.collect()  # the old model must be gone before the next loads
        values: dict[str, tuple[Any, ...]] = {}

        def value(node_id: str) -> tuple[Any, ...]:
            if node_id not in values:
                node = part[node_id]
                cls = NODE_CLASS_MAPPINGS[node["class_type"]]
                kwargs = {k: (value(str(v[0]))[v[1]] if _is_link(v) else v) for k, v in node["inputs"].items()}
                returned = getattr(cls(), cls.FUNCTION)(**kwargs)
                values[node_id] = tuple(returned["result"] if isinstance(returned, dict) else returned)
            return values[node_id]

        built[key] = value(str(link[0]))[link[1]]
    return built[key]


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)  # ComfyUI is gone: nothing will lead this rank again

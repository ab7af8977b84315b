"""Compose services for N GPUs: a ComfyUI and its Celery worker per GPU.

`docker/docker-compose.yml` holds the shared services and GPU 0; `compose_override(gpus)`
adds GPUs 1..N-1 as a second file (`docker compose -f docker/docker-compose.yml -f
docker-compose.gpus.yml up -d`). With `hosts`, the ComfyUI instances run on other
machines and only their workers are added here. The per-GPU service definitions come
from one function, and a test checks that the base file's GPU 0 matches it.

The YAML is written by a tiny emitter (block style, every string double-quoted), so the
orchestrator's image needs no YAML library.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import ComposeError

COMFY_PORT = 8188  # inside every ComfyUI container; published as 8188 + GPU index
MAX_GPUS = 64
MIN_GPUS = 1

COMFYUI_IMAGE = "wan-i2v-comfyui:${WAN_I2V_TAG:-local}"
ORCHESTRATOR_IMAGE = "wan-i2v-orchestrator:${WAN_I2V_TAG:-local}"
COMFYUI_BUILD: dict[str, Any] = {
    "context": "..",
    "dockerfile": "docker/Dockerfile.comfyui",
    "target": "comfyui",
    "args": {
        "COMFYUI_VERSION": "${COMFYUI_VERSION:-v0.8.0}",
        "TORCH_INDEX_URL": "${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cu128}",
    },
}
ORCHESTRATOR_BUILD: dict[str, Any] = {"context": "..", "dockerfile": "docker/Dockerfile.orchestrator"}

# What a worker needs: the broker, the database, shared storage for uploads and videos, the dispatch limits.
DATABASE_URL = (
    "${DATABASE_URL:-postgresql://${POSTGRES_USER:-wan}:${POSTGRES_PASSWORD:-}@postgres:5432/${POSTGRES_DB:-wan_i2v}}"
)
WORKER_ENV: dict[str, str] = {
    "BROKER_URL": "${BROKER_URL:-redis://redis:6379/0}",
    "DATABASE_URL": DATABASE_URL,
    "VIDEOS_DIR": "/app/videos",
    "UPLOADS_DIR": "/app/uploads",
    "DATA_DIR": "/app/data",
    "JOB_TIMEOUT_S": "${JOB_TIMEOUT_S:-3600}",
    "PROGRESS_SILENCE_S": "${PROGRESS_SILENCE_S:-600}",
    "RETRY_LIMIT": "${RETRY_LIMIT:-3}",
    "HEARTBEAT_S": "${HEARTBEAT_S:-5}",
    "HEARTBEAT_STALE_S": "${HEARTBEAT_STALE_S:-30}",
    "DISPATCH_POLL_S": "${DISPATCH_POLL_S:-1}",
    "UNREACHABLE_S": "${UNREACHABLE_S:-15}",
}
WORKER_VOLUMES = ["uploads:/app/uploads", "videos:/app/videos"]

_HOST = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def comfyui_service(index: int) -> dict[str, Any]:
    """ComfyUI pinned to GPU `index`, published on 8188 + index, with its own input/output/temp volume."""
    return {
        "image": COMFYUI_IMAGE,
        "build": COMFYUI_BUILD,
        "restart": "unless-stopped",
        "environment": {"COMFYUI_EXTRA_ARGS": "${COMFYUI_EXTRA_ARGS:-}"},
        "ports": [f"${{COMFYUI_BIND:-127.0.0.1}}:{COMFY_PORT + index}:{COMFY_PORT}"],
        "volumes": ["models:/models:ro", f"{data_volume(index)}:/data"],
        "deploy": {
            "resources": {
                "reservations": {"devices": [{"driver": "nvidia", "device_ids": [str(index)], "capabilities": ["gpu"]}]}
            }
        },
    }


def worker_service(queue: str, comfy_url: str, comfy_service: str | None) -> dict[str, Any]:
    """The Celery worker that drives one ComfyUI (queue name = instance id)."""
    depends: dict[str, Any] = {
        "migrate": {"condition": "service_completed_successfully"},
        "redis": {"condition": "service_healthy"},
    }
    if comfy_service:
        depends[comfy_service] = {"condition": "service_started"}
    return {
        "image": ORCHESTRATOR_IMAGE,
        "build": ORCHESTRATOR_BUILD,
        "restart": "unless-stopped",
        "command": ["wan-i2v", "worker", "--comfy", comfy_url, "--queue", queue],
        "environment": dict(WORKER_ENV),
        "volumes": list(WORKER_VOLUMES),
        "depends_on": depends,
        # The image's check asks the API; a worker serves none (its state shows in /api/instances).
        "healthcheck": {"disable": True},
    }


def data_volume(index: int) -> str:
    return f"comfyui-gpu{index}-data"


def gpu_services(index: int) -> dict[str, dict[str, Any]]:
    """`comfyui-gpuN` and `worker-gpuN` for one local GPU."""
    comfy = f"comfyui-gpu{index}"
    return {
        comfy: comfyui_service(index),
        f"worker-gpu{index}": worker_service(f"gpu{index}", f"http://{comfy}:{COMFY_PORT}", comfy),
    }


def host_slug(host: str) -> str:
    """A host name as it may appear in a service and queue name."""
    return re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")


def compose_override(gpus: int, hosts: list[str] | None = None, first: int = 1) -> dict[str, Any]:
    """The override document.

    Without hosts: ComfyUI + worker for local GPUs `first`..gpus-1 (GPU 0 is in the base file).
    With hosts: for each host, workers for `gpus` ComfyUI instances on ports 8188.. of that host,
    queues `<host>-gpuI`; no ComfyUI service here (it runs there).
    """
    if not MIN_GPUS <= gpus <= MAX_GPUS:
        raise ComposeError(f"--gpus must be between {MIN_GPUS} and {MAX_GPUS}, got {gpus}.")
    services: dict[str, Any] = {}
    volumes: dict[str, Any] = {}
    if not hosts:
        for index in range(first, gpus):
            services.update(gpu_services(index))
            volumes[data_volume(index)] = {}
    else:
        seen: set[str] = set()
        for host in hosts:
            if not _HOST.match(host):
                raise ComposeError(f"'{host}' is not a host name or IPv4 address (letters, digits, dots and dashes).")
            slug = host_slug(host)
            if slug in seen:
                raise ComposeError(f"Host '{host}' is given twice (or two names map to '{slug}').")
            seen.add(slug)
            for index in range(gpus):
                queue = f"{slug}-gpu{index}"
                services[f"worker-{queue}"] = worker_service(queue, f"http://{host}:{COMFY_PORT + index}", None)
    document: dict[str, Any] = {"services": services}
    if volumes:
        document["volumes"] = volumes
    return document


def render_override(gpus: int, hosts: list[str] | None = None) -> str:
    """The override file's text, with a header saying how to use it."""
    if hosts:
        where = f"workers for the ComfyUI instances on {', '.join(hosts)} ({gpus} per host, ports {COMFY_PORT}..)"
    elif gpus == 1:
        where = "no services: GPU 0 is already in docker/docker-compose.yml"
    else:
        where = "GPU 1" if gpus == 2 else f"GPUs 1 to {gpus - 1}"
    header = (
        f"# Made by `wan-i2v compose --gpus {gpus}{''.join(f' --hosts {h}' for h in hosts or [])}`: {where}.\n"
        "# Use: docker compose --env-file .env -f docker/docker-compose.yml -f docker-compose.gpus.yml up -d\n"
    )
    return header + to_yaml(compose_override(gpus, hosts))


# ---------------------------------------------------------------- a small YAML emitter

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if value is None:
        return "null"
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid YAML double-quoted scalar
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _key(key: str) -> str:
    return (
        key
        if _PLAIN_KEY.match(key) and key.lower() not in {"true", "false", "null", "yes", "no", "on", "off"}
        else json.dumps(key)
    )


def to_yaml(data: Any, indent: int = 0) -> str:
    """Block-style YAML for dicts, lists and scalars."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(data, dict):
        if not data:
            return pad + "{}\n"
        for key, value in data.items():
            if isinstance(value, dict | list) and value:
                lines.append(f"{pad}{_key(key)}:\n{to_yaml(value, indent + 1)}")
            else:
                lines.append(f"{pad}{_key(key)}: {_inline(value)}\n")
        return "".join(lines)
    if isinstance(data, list):
        if not data:
            return pad + "[]\n"
        for item in data:
            if isinstance(item, dict) and item:
                body = to_yaml(item, indent + 1)
                lines.append(f"{pad}- {body[len(pad) + 2 :]}")
            elif isinstance(item, list) and item:
                lines.append(f"{pad}-\n{to_yaml(item, indent + 1)}")
            else:
                lines.append(f"{pad}- {_inline(item)}\n")
        return "".join(lines)
    return pad + _scalar(data) + "\n"


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value)

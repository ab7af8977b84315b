"""The server's settings and the parts its routes share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from aiohttp import web

from . import files, system
from .security import default_allowed_hosts
from .history import DEFAULT_MAX_HISTORY, History
from .listing import ObjectInfoCache
from .messages import MAX_QUEUED_FRAMES, MessageBus
from .queue import PromptQueue
from .runner import Runner

MB = 1024 * 1024


def _package_version() -> str:
    try:
        return metadata.version("wan-i2v")
    except metadata.PackageNotFoundError:
        return "0"


@dataclass
class ServerConfig:
    data_dir: Path
    models_dir: Path | None = None
    max_upload_mb: float = 100
    max_history: int = DEFAULT_MAX_HISTORY
    max_queued_frames: int = MAX_QUEUED_FRAMES  # per websocket; a client this far behind is disconnected
    allowed_hosts: tuple[str, ...] = field(default_factory=default_allowed_hosts)  # Host header names served
    max_image_pixels: int = files.DEFAULT_MAX_PIXELS  # uploads and the images a prompt names
    # Retention of the input folder, applied on every upload and at start: older or
    # surplus files go (oldest first) unless a queued or running prompt names them.
    max_input_mb: float = 2048
    max_input_files: int = 1000
    max_input_age_hours: float = 24 * 7
    python_module: str = system.DEFAULT_PYTHON_MODULE
    version: str = field(default_factory=lambda: f"wan-i2v {_package_version()}")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MB)


def prune_inputs(state: ServerState, *keep: str) -> list[str]:
    """Apply the input folder's retention budget, sparing the inputs of queued and running prompts."""
    config = state.config
    running, pending = state.queue.snapshot()
    in_use = files.input_names_in_use(item.prompt for item in [*running, *pending])
    return files.prune_inputs(
        state.folders.input,
        max_bytes=int(config.max_input_mb * MB),
        max_files=config.max_input_files,
        max_age_s=config.max_input_age_hours * 3600,
        keep={*in_use, *keep},
    )


@dataclass
class ServerState:
    config: ServerConfig
    node_classes: Mapping[str, type]
    display_names: Mapping[str, str]
    folders: files.Folders
    queue: PromptQueue
    history: History
    bus: MessageBus
    runner: Runner
    object_info: ObjectInfoCache


STATE_KEY = web.AppKey("wan_i2v_server", ServerState)

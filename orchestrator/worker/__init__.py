"""The embedded worker: ComfyUI's HTTP + websocket protocol over the in-process executor."""

from .server import WorkerServer, create_app, serve
from .state import WorkerConfig, WorkerState

__all__ = ["WorkerConfig", "WorkerServer", "WorkerState", "create_app", "serve"]

"""The embedded worker: ComfyUI's HTTP + websocket protocol over the in-process executor.

Also the helpers that install the node pack into a real ComfyUI and launch it
per GPU (`comfy_install`, `comfy_launch`). Exports load lazily, so the
launcher does not pay for importing the node pack and torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["WorkerConfig", "WorkerServer", "WorkerState", "create_app", "serve"]


def __getattr__(name: str) -> Any:
    if name in ("WorkerServer", "create_app", "serve"):
        from . import server

        return getattr(server, name)
    if name in ("WorkerConfig", "WorkerState"):
        from . import state

        return getattr(state, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

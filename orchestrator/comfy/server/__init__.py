"""The embedded ComfyUI-compatible server: ComfyUI's HTTP + websocket protocol over
the in-process executor (`wan-i2v comfy serve`). Exports load lazily."""

from __future__ import annotations

from typing import Any

__all__ = ["ServerConfig", "EmbeddedServer", "ServerState", "create_app", "serve"]


def __getattr__(name: str) -> Any:
    if name in ("EmbeddedServer", "create_app", "serve"):
        from . import server

        return getattr(server, name)
    if name in ("ServerConfig", "ServerState"):
        from . import state

        return getattr(state, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

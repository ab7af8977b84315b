"""A tiny custom node file for the real-ComfyUI tests: HTTP routes that report what
comfy.model_management holds. Linked into custom_nodes/ by those tests only.

GET  /wan_i2v_probe/loaded  {"loaded": [{"patcher", "module", "device"}], "tracked_alive": n}
POST /wan_i2v_probe/track   keeps weak references to the modules loaded now; returns how many
"""

from __future__ import annotations

import gc
import weakref

from aiohttp import web

import comfy.model_management as mm  # type: ignore[import-not-found]
from server import PromptServer  # type: ignore[import-not-found]

NODE_CLASS_MAPPINGS: dict = {}
_tracked: list[weakref.ref] = []


def _module(loaded):
    patcher = loaded.model
    return None if patcher is None else patcher.model


@PromptServer.instance.routes.get("/wan_i2v_probe/loaded")
async def loaded(_request: web.Request) -> web.Response:
    gc.collect()
    entries = []
    for item in mm.current_loaded_models:
        module = _module(item)
        param = next(iter(module.parameters()), None) if module is not None else None
        entries.append(
            {
                "patcher": type(item.model).__name__,
                "module": type(module).__name__,
                "device": str(param.device) if param is not None else None,
            }
        )
    return web.json_response({"loaded": entries, "tracked_alive": sum(ref() is not None for ref in _tracked)})


@PromptServer.instance.routes.post("/wan_i2v_probe/track")
async def track(_request: web.Request) -> web.Response:
    _tracked.clear()
    for item in mm.current_loaded_models:
        module = _module(item)
        if module is not None and type(item.model).__name__ == "ManagedModule":
            _tracked.append(weakref.ref(module))
    return web.json_response({"tracked": len(_tracked)})

"""Websocket frames: their shapes, and delivery to connected clients.

Every frame is `{"type": ..., "data": ...}`. Frames addressed to a client id go
to that client's socket only; frames with no address go to every socket.
`MessageBus.send` may be called from any thread; one publisher task on the
server's event loop delivers the frames in the order they were sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)


def now_ms() -> int:
    return int(time.time() * 1000)


def status_data(queue_remaining: int, sid: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"status": {"exec_info": {"queue_remaining": queue_remaining}}}
    if sid is not None:
        data["sid"] = sid
    return data


def executing_data(node_id: str | None, prompt_id: str) -> dict[str, Any]:
    """`executing` for a node, or the final `{node: null}` when `node_id` is None."""
    if node_id is None:
        return {"node": None, "prompt_id": prompt_id}
    return {"node": node_id, "display_node": node_id, "prompt_id": prompt_id}


def progress_data(node_id: str, value: int, total: int, prompt_id: str) -> dict[str, Any]:
    return {"value": value, "max": total, "prompt_id": prompt_id, "node": node_id}


def executed_data(node_id: str, output: dict[str, Any] | None, prompt_id: str) -> dict[str, Any]:
    return {"node": node_id, "display_node": node_id, "output": output, "prompt_id": prompt_id}


def node_meta(node_id: str) -> dict[str, Any]:
    """History `meta` for a top-level node (this server has no subgraphs)."""
    return {"node_id": node_id, "display_node": node_id, "parent_node": None, "real_node_id": node_id}


class ProgressStates:
    """The cumulative per-node snapshot carried by `progress_state` frames.
    Nodes that have not started are left out, as in ComfyUI."""

    def __init__(self, prompt_id: str) -> None:
        self.prompt_id = prompt_id
        self._nodes: dict[str, dict[str, Any]] = {}

    def start(self, node_id: str) -> dict[str, Any]:
        return self._set(node_id, "running", 0.0, 1.0)

    def update(self, node_id: str, value: float, total: float) -> dict[str, Any]:
        return self._set(node_id, "running", value, total)

    def finish(self, node_id: str) -> dict[str, Any]:
        entry = self._nodes.get(node_id)
        total = entry["max"] if entry else 1.0
        return self._set(node_id, "finished", total, total)

    def error(self, node_id: str) -> dict[str, Any]:
        entry = self._nodes.get(node_id)
        value, total = (entry["value"], entry["max"]) if entry else (0.0, 1.0)
        return self._set(node_id, "error", value, total)

    def _set(self, node_id: str, state: str, value: float, total: float) -> dict[str, Any]:
        self._nodes[node_id] = {
            "value": value,
            "max": total,
            "state": state,
            "node_id": node_id,
            "prompt_id": self.prompt_id,
            "display_node_id": node_id,
            "parent_node_id": None,
            "real_node_id": node_id,
        }
        return {"prompt_id": self.prompt_id, "nodes": {k: dict(v) for k, v in self._nodes.items()}}


def _dumps(frame: dict[str, Any]) -> str:
    # Node UI dicts can hold values json cannot encode; show them as text rather than drop the frame.
    return json.dumps(frame, default=str)


class MessageBus:
    """Connected sockets by client id, and ordered delivery to them."""

    def __init__(self) -> None:
        self._sockets: dict[str, web.WebSocketResponse] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[str, dict[str, Any], str | None]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._publish())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for ws in list(self._sockets.values()):
            await ws.close()
        self._sockets.clear()

    def register(self, sid: str, ws: web.WebSocketResponse) -> None:
        # Reusing a client id replaces the old socket (it stays open but gets nothing).
        self._sockets[sid] = ws

    def unregister(self, sid: str, ws: web.WebSocketResponse) -> None:
        if self._sockets.get(sid) is ws:
            del self._sockets[sid]

    def send(self, event: str, data: dict[str, Any], sid: str | None = None) -> None:
        """Queue a frame for `sid`, or for everyone when `sid` is None. Thread-safe."""
        if self._loop is None or self._queue is None or self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (event, data, sid))

    async def send_now(self, ws: web.WebSocketResponse, event: str, data: dict[str, Any]) -> None:
        """Send directly on one socket (the handshake frames)."""
        await ws.send_str(_dumps({"type": event, "data": data}))

    async def _publish(self) -> None:
        assert self._queue is not None
        while True:
            event, data, sid = await self._queue.get()
            text = _dumps({"type": event, "data": data})
            if sid is None:
                targets = list(self._sockets.values())
            else:
                ws = self._sockets.get(sid)
                targets = [ws] if ws is not None else []
            for ws in targets:
                if ws.closed:
                    continue
                try:
                    await ws.send_str(text)
                except (ConnectionError, RuntimeError) as exc:
                    log.debug("dropping frame for a closed socket: %s", exc)

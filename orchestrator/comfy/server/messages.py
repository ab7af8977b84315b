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


# Frames one socket may have waiting. A client that falls this far behind (it stopped
# reading, or reads slower than frames come) is disconnected rather than buffered for.
MAX_QUEUED_FRAMES = 1000


class _Client:
    """One socket, its bounded queue of unsent frames and the task that writes them."""

    def __init__(self, sid: str, ws: web.WebSocketResponse, limit: int, transport: asyncio.BaseTransport | None) -> None:
        self.sid = sid
        self.ws = ws
        self.frames: asyncio.Queue[str] = asyncio.Queue(maxsize=limit)
        self.transport = transport
        self.dropped = False
        self.writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        while True:
            text = await self.frames.get()
            if self.ws.closed:
                continue
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError) as exc:
                log.debug("dropping frame for a closed socket: %s", exc)

    def offer(self, text: str) -> bool:
        """Queue a frame; False when the queue is full (the client is too slow)."""
        try:
            self.frames.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True

    def drop(self) -> None:
        """Disconnect now: stop writing and abort the connection (its buffers are freed)."""
        self.dropped = True
        self.writer.cancel()
        if self.transport is not None:
            self.transport.abort()


class MessageBus:
    """Connected sockets by client id, and ordered delivery to each.

    Every socket has its own bounded queue and writer task, so a client that stops
    reading delays nobody else. When its queue holds `max_queued` unsent frames the
    client is disconnected (its connection aborted); it may reconnect and catch up
    from /history and /queue, as after any disconnect.
    """

    def __init__(self, max_queued: int = MAX_QUEUED_FRAMES) -> None:
        self.max_queued = max_queued
        self._clients: dict[str, _Client] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.dropped_clients = 0

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        clients = list(self._clients.values())
        self._clients.clear()
        for client in clients:
            client.writer.cancel()
            try:
                await asyncio.wait_for(client.ws.close(), 2)
            except (asyncio.TimeoutError, ConnectionError, RuntimeError):
                if client.transport is not None:
                    client.transport.abort()

    def register(self, sid: str, ws: web.WebSocketResponse, transport: asyncio.BaseTransport | None = None) -> None:
        """Start delivering to `ws` (on the event loop). Reusing a client id replaces the old
        socket: it stays open but gets nothing more."""
        old = self._clients.get(sid)
        if old is not None:
            old.writer.cancel()
        self._clients[sid] = _Client(sid, ws, self.max_queued, transport)

    def unregister(self, sid: str, ws: web.WebSocketResponse) -> None:
        client = self._clients.get(sid)
        if client is not None and client.ws is ws:
            client.writer.cancel()
            del self._clients[sid]

    def connected(self) -> list[str]:
        return list(self._clients)

    def send(self, event: str, data: dict[str, Any], sid: str | None = None) -> None:
        """Queue a frame for `sid`, or for everyone when `sid` is None. Thread-safe."""
        if self._loop is None or self._loop.is_closed():
            return
        text = _dumps({"type": event, "data": data})
        try:
            self._loop.call_soon_threadsafe(self._deliver, text, sid)
        except RuntimeError:  # the loop closed meanwhile
            pass

    async def send_now(self, ws: web.WebSocketResponse, event: str, data: dict[str, Any], sid: str | None = None) -> None:
        """A frame for one socket, in order with everything else queued for it."""
        text = _dumps({"type": event, "data": data})
        client = self._clients.get(sid) if sid is not None else None
        if client is not None and client.ws is ws:
            self._offer(client, text)
        else:
            await ws.send_str(text)

    def _deliver(self, text: str, sid: str | None) -> None:
        if sid is None:
            targets = list(self._clients.values())
        else:
            client = self._clients.get(sid)
            targets = [client] if client is not None else []
        for client in targets:
            self._offer(client, text)

    def _offer(self, client: _Client, text: str) -> None:
        if client.dropped or client.offer(text):
            return
        log.warning("websocket client %s stopped reading (%d frames waiting): disconnecting it", client.sid, self.max_queued)
        self.dropped_clients += 1
        client.drop()
        if self._clients.get(client.sid) is client:
            del self._clients[client.sid]

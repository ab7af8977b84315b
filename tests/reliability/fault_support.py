"""Fault injectors for the reliability tests, each an asyncio server on 127.0.0.1 in its own thread:

- `FlakyProxy`: a TCP proxy between the orchestrator and an instance that can cut every websocket
  at once, or keep them open and stop passing bytes (a silent socket); plain HTTP keeps flowing.
- `MuteInstance`: ComfyUI's API that accepts every prompt, reports it running, and never finishes it.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from aiohttp import web


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        async def _cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.call(_cancel_all())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class FlakyProxy(_LoopThread):
    def __init__(self, target_port: int) -> None:
        super().__init__()
        self.target_port = target_port
        self.silent = False
        self.ws_opened = 0
        self.ws_cut = 0
        self._ws: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self.server = self.call(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, is_ws: bool) -> None:
        try:
            while data := await reader.read(65536):
                while is_ws and self.silent:  # hold the bytes: the socket stays open and says nothing
                    await asyncio.sleep(0.05)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            first = await client_r.read(65536)
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except (ConnectionError, OSError):
            client_w.close()
            return
        is_ws = first.startswith(b"GET /ws")
        pair = (client_w, up_w)
        if is_ws:
            self.ws_opened += 1
            self._ws.add(pair)
        up_w.write(first)
        try:
            await asyncio.gather(self._pipe(client_r, up_w, is_ws), self._pipe(up_r, client_w, is_ws))
        finally:
            self._ws.discard(pair)

    def cut(self) -> int:
        """Drops every open websocket (both sides); returns how many."""
        async def _cut() -> int:
            pairs = list(self._ws)
            for a, b in pairs:
                for w in (a, b):
                    w.transport.abort()
            return len(pairs)

        n = self.call(_cut())
        self.ws_cut += n
        return n

    def close(self) -> None:
        self.server.close()
        self.stop()


class MuteInstance(_LoopThread):
    """Takes prompts, says they run, never ends them; records interrupts and deletions."""

    NODES = ("DispatchImage", "DispatchTicker", "DispatchSave")

    def __init__(self) -> None:
        super().__init__()
        self.prompts: list[str] = []
        self.interrupted: list[str] = []
        app = web.Application()
        app.add_routes([
            web.get("/system_stats", self._stats), web.get("/object_info", self._object_info),
            web.post("/upload/image", self._upload), web.post("/prompt", self._prompt),
            web.get("/prompt", self._remaining), web.get("/queue", self._queue), web.post("/queue", self._ok),
            web.get("/history/{prompt_id}", self._history), web.post("/history", self._ok),
            web.post("/interrupt", self._interrupt), web.get("/ws", self._ws),
        ])
        self.runner = web.AppRunner(app)
        self.call(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.call(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _stats(self, _: web.Request) -> web.Response:
        return web.json_response({"system": {"os": "test", "comfyui_version": "mute"}, "devices": []})

    async def _object_info(self, _: web.Request) -> web.Response:
        return web.json_response({name: {"input": {}, "output": []} for name in self.NODES})

    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        return web.json_response({"name": "in.png", "subfolder": str(form.get("subfolder", "")), "type": "input"})

    async def _prompt(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.prompts.append(body["prompt_id"])
        return web.json_response({"prompt_id": body["prompt_id"], "number": len(self.prompts), "node_errors": {}})

    async def _remaining(self, _: web.Request) -> web.Response:
        return web.json_response({"exec_info": {"queue_remaining": len(self.prompts)}})

    async def _queue(self, _: web.Request) -> web.Response:
        running = [[i, p, {}, {}, []] for i, p in enumerate(self.prompts) if p not in self.interrupted]
        return web.json_response({"queue_running": running, "queue_pending": []})

    async def _history(self, _: web.Request) -> web.Response:
        return web.json_response({})

    async def _ok(self, _: web.Request) -> web.Response:
        return web.json_response({})

    async def _interrupt(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        self.interrupted.append(str(body.get("prompt_id")))
        return web.json_response({})

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        await ws.send_str(json.dumps({"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}}}}))
        async for _ in ws:  # silence: never a progress or an end
            pass
        return ws

    def close(self) -> None:
        self.call(self.runner.cleanup())
        self.stop()

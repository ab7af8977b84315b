"""Async client for one ComfyUI instance: HTTP routes plus the /ws event stream.

Only the calls the dispatcher needs. Connection problems raise `ComfyUnavailable`
(an instance fault: worth retrying elsewhere); a prompt ComfyUI refuses raises
`PromptRejected` (the request itself is wrong: retrying cannot help).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from orchestrator.errors import OrchestratorError


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """One context for every client: building one per client cost ~14% of the dispatcher's loop time."""
    return ssl.create_default_context()


class ComfyError(OrchestratorError):
    """Base of the ComfyUI client's errors."""


class ComfyUnavailable(ComfyError):
    """The instance could not be reached or answered with a server error."""


class PromptRejected(ComfyError):
    """ComfyUI refused the prompt (validation); `details` holds its per-node errors."""

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.details = details


@dataclass(frozen=True)
class QueueState:
    running: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)

    def __contains__(self, prompt_id: object) -> bool:
        return prompt_id in self.running or prompt_id in self.pending


def _rejection_message(body: dict[str, Any]) -> str:
    error = body.get("error") or {}
    parts = [str(error.get("message") or "the prompt was refused")]
    for node_id, node in (body.get("node_errors") or {}).items():
        for err in node.get("errors", []):
            parts.append(f"node {node_id} ({node.get('class_type', '?')}): {err.get('message')} {err.get('details', '')}".strip())
    return "; ".join(parts)


class ComfyClient:
    """One instance at `base_url`. Use as `async with ComfyClient(url) as c:`."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base = base_url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.base, timeout=timeout, verify=_ssl_context())

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ComfyClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ComfyUnavailable(f"ComfyUI at {self.base} is not reachable ({type(exc).__name__}: {exc})") from exc
        if response.status_code >= 500:
            raise ComfyUnavailable(f"ComfyUI at {self.base} answered {response.status_code} to {method} {path}")
        return response

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._request(method, path, **kwargs)
        if response.status_code != 200:
            raise ComfyError(f"ComfyUI at {self.base} answered {response.status_code} to {method} {path}: {response.text[:300]}")
        try:
            return response.json()
        except ValueError as exc:
            raise ComfyUnavailable(f"ComfyUI at {self.base} sent invalid JSON for {path}") from exc

    # ------------------------------------------------------------ prompts

    async def submit(
        self, prompt: dict[str, Any], prompt_id: str, client_id: str, extra_data: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body = {"prompt": prompt, "prompt_id": prompt_id, "client_id": client_id, "extra_data": extra_data or {}}
        response = await self._request("POST", "/prompt", json=body)
        data = response.json() if response.content else {}
        if response.status_code == 400:
            raise PromptRejected(_rejection_message(data), data)
        if response.status_code != 200:
            raise ComfyUnavailable(f"ComfyUI at {self.base} answered {response.status_code} to POST /prompt")
        return data

    async def queue(self) -> QueueState:
        data = await self._json("GET", "/queue")
        return QueueState(
            running=[item[1] for item in data.get("queue_running", [])],
            pending=[item[1] for item in data.get("queue_pending", [])],
        )

    async def queue_remaining(self) -> int:
        data = await self._json("GET", "/prompt")
        return int(data["exec_info"]["queue_remaining"])

    async def delete_queued(self, prompt_ids: list[str]) -> None:
        await self._request("POST", "/queue", json={"delete": prompt_ids})

    async def interrupt(self, prompt_id: str) -> None:
        """Interrupts `prompt_id` only if it is the one running (never a global interrupt)."""
        await self._request("POST", "/interrupt", json={"prompt_id": prompt_id})

    async def history(self, prompt_id: str) -> dict[str, Any] | None:
        """The finished prompt's history entry, or None while it is queued, running or unknown."""
        data = await self._json("GET", f"/history/{prompt_id}")
        return data.get(prompt_id)

    async def delete_history(self, prompt_ids: list[str]) -> None:
        await self._request("POST", "/history", json={"delete": prompt_ids})

    # ------------------------------------------------------------ system

    async def system_stats(self) -> dict[str, Any]:
        return await self._json("GET", "/system_stats")

    async def object_info(self) -> dict[str, Any]:
        return await self._json("GET", "/object_info")

    async def node_types(self) -> list[str]:
        return sorted(await self.object_info())

    # ------------------------------------------------------------ files

    async def upload_image(self, data: bytes, filename: str, subfolder: str = "") -> str:
        """Uploads into the input folder; returns the name to put in LoadImage (with subfolder)."""
        files = {"image": (filename, data, "application/octet-stream")}
        form = {"overwrite": "true", "subfolder": subfolder, "type": "input"}
        result = await self._json("POST", "/upload/image", files=files, data=form)
        return f"{result['subfolder']}/{result['name']}" if result.get("subfolder") else str(result["name"])

    async def download(self, filename: str, subfolder: str, folder_type: str, dest: Path) -> None:
        """Streams one file from /view to `dest` atomically (a temporary name, then a rename)."""
        params = {"filename": filename, "subfolder": subfolder, "type": folder_type}
        tmp = dest.with_name(f".{dest.name}.part")
        try:
            async with self._http.stream("GET", "/view", params=params) as response:
                if response.status_code != 200:
                    raise ComfyUnavailable(f"ComfyUI at {self.base} answered {response.status_code} for output {subfolder}/{filename}")
                with open(tmp, "wb") as f:
                    async for chunk in response.aiter_bytes(1 << 20):
                        f.write(chunk)
        except httpx.HTTPError as exc:
            tmp.unlink(missing_ok=True)
            raise ComfyUnavailable(f"ComfyUI at {self.base} dropped the download of {filename}: {exc}") from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, dest)

    # ------------------------------------------------------------ events

    async def connect_events(self, client_id: str) -> EventStream:
        """Opens /ws for `client_id`; open it before submitting so no frame is missed."""
        url = self.base.replace("http", "ws", 1) + f"/ws?clientId={client_id}"
        try:
            ws = await websockets.connect(url, ping_interval=10, ping_timeout=10, max_size=None, open_timeout=10)
        except (OSError, websockets.WebSocketException, asyncio.TimeoutError) as exc:
            raise ComfyUnavailable(f"ComfyUI at {self.base} refused the websocket ({exc})") from exc
        return EventStream(ws)


class EventStream:
    """JSON frames of one /ws connection; binary preview frames are skipped."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws

    async def next(self, timeout: float) -> dict[str, Any] | None:
        """The next frame, or None if none arrived within `timeout`. Raises ComfyUnavailable when the socket drops."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            try:
                message = await asyncio.wait_for(self._ws.recv(), remaining)
            except asyncio.TimeoutError:
                return None
            except websockets.WebSocketException as exc:
                raise ComfyUnavailable(f"the websocket closed ({exc})") from exc
            if isinstance(message, str):
                try:
                    frame = json.loads(message)
                except json.JSONDecodeError:
                    continue
                if isinstance(frame, dict):
                    return frame

    async def close(self) -> None:
        await self._ws.close()

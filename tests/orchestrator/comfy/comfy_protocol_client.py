"""A small ComfyUI protocol client for tests, built like third-party clients:
`requests` for HTTP and `websocket-client` for the /ws stream."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests
import websocket

Frame = dict[str, Any]


class ComfyClient:
    def __init__(self, base_url: str, client_id: str | None = None, timeout: float = 60.0) -> None:
        self.base = base_url.rstrip("/")
        self.client_id = client_id or uuid.uuid4().hex
        self.timeout = timeout
        self.http = requests.Session()
        self.frames: list[Frame] = []
        self._read = 0  # frames[:_read] were already handed out by wait_for
        ws_url = self.base.replace("http://", "ws://", 1) + f"/ws?clientId={self.client_id}"
        self.ws = websocket.create_connection(ws_url, timeout=timeout)
        self.first_frame = self._recv(timeout)
        self._read = 1

    def close(self) -> None:
        self.ws.close()
        self.http.close()

    def __enter__(self) -> ComfyClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------ websocket

    def _recv(self, timeout: float) -> Frame:
        self.ws.settimeout(timeout)
        while True:
            try:
                message = self.ws.recv()
            except websocket.WebSocketTimeoutException as exc:
                raise TimeoutError("no websocket frame arrived in time") from exc
            if isinstance(message, str):
                frame = json.loads(message)
                self.frames.append(frame)
                return frame

    def wait_for(self, predicate: Callable[[Frame], bool], timeout: float | None = None) -> Frame:
        """The next frame (after the last one returned) that matches; older frames are kept in `frames`."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            while self._read < len(self.frames):
                frame = self.frames[self._read]
                self._read += 1
                if predicate(frame):
                    return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no matching websocket frame arrived in time")
            self._recv(remaining)

    def wait_done(self, prompt_id: str, timeout: float | None = None) -> list[Frame]:
        """Frames up to the final `executing {node: null}` of `prompt_id`, starting
        where the previous wait ended."""
        start = self._read
        self.wait_for(
            lambda f: (
                f["type"] == "executing" and f["data"].get("node") is None and f["data"].get("prompt_id") == prompt_id
            ),
            timeout,
        )
        return self.frames[start : self._read]

    # ------------------------------------------------------------ HTTP

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(self.base + path, timeout=self.timeout, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        if body is not None:
            kwargs["json"] = body
        return self.http.post(self.base + path, timeout=self.timeout, **kwargs)

    def post_prompt(self, prompt: Any = None, *, with_client_id: bool = True, **fields: Any) -> requests.Response:
        body: dict[str, Any] = dict(fields)
        if prompt is not None:
            body["prompt"] = prompt
        if with_client_id:
            body.setdefault("client_id", self.client_id)
        return self.post("/prompt", body)

    def submit(self, prompt: dict[str, Any], **fields: Any) -> dict[str, Any]:
        response = self.post_prompt(prompt, **fields)
        if response.status_code != 200:
            raise AssertionError(f"POST /prompt answered {response.status_code}: {response.text}")
        return response.json()

    def run(self, prompt: dict[str, Any], timeout: float | None = None, **fields: Any) -> tuple[str, list[Frame]]:
        """Submit and wait until done; returns (prompt_id, frames of this run)."""
        start = self._read = len(self.frames)
        prompt_id = self.submit(prompt, **fields)["prompt_id"]
        self.wait_done(prompt_id, timeout)
        return prompt_id, self.frames[start : self._read]

    def history(self, prompt_id: str | None = None, **params: Any) -> dict[str, Any]:
        path = "/history" if prompt_id is None else f"/history/{prompt_id}"
        response = self.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def queue(self) -> dict[str, Any]:
        response = self.get("/queue")
        response.raise_for_status()
        return response.json()

    def interrupt(self, prompt_id: str | None = None) -> requests.Response:
        return self.post("/interrupt", {"prompt_id": prompt_id} if prompt_id else None)

    def upload(self, name: str, data: bytes, content_type: str = "image/png", **fields: str) -> requests.Response:
        return self.http.post(
            self.base + "/upload/image", files={"image": (name, data, content_type)}, data=fields, timeout=self.timeout
        )

    def view(
        self, filename: str, subfolder: str = "", type_: str = "output", headers: dict[str, str] | None = None
    ) -> requests.Response:
        params = {"filename": filename, "subfolder": subfolder, "type": type_}
        return self.get("/view", params=params, headers=headers or {})

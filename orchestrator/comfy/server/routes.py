"""The HTTP and websocket routes of ComfyUI's protocol."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import mimetypes
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from orchestrator.executor import PromptValidationError, validate_prompt

from . import files, system
from .messages import now_ms, status_data
from .queue import QueueItem
from .state import ServerState, prune_inputs

log = logging.getLogger(__name__)

# extra_data keys that never reach the queue or the history.
SENSITIVE_EXTRA_DATA_KEYS = ("auth_token_comfy_org", "api_key_comfy_org")


def error_body(type_: str, message: str, details: str = "") -> dict[str, Any]:
    """ComfyUI's error shape, used for every 4xx this server answers with a body."""
    return {"error": {"type": type_, "message": message, "details": details, "extra_info": {}}, "node_errors": {}}


def _bad_request(type_: str, message: str, details: str = "", status: int = 400) -> web.Response:
    return web.json_response(error_body(type_, message, details), status=status)


async def _json_body(request: web.Request, *, optional: bool = False) -> Any:
    """The request's JSON; raises a 400 in ComfyUI's shape when it is not JSON."""
    text = await request.text()
    if optional and not text.strip():
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise web.HTTPBadRequest(
            text=json.dumps(error_body("invalid_prompt", "The request body is not valid JSON", str(exc))),
            content_type="application/json",
        ) from exc


def _object_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps(
                error_body("invalid_prompt", "The request body must be a JSON object", type(body).__name__)
            ),
            content_type="application/json",
        )
    return body


def _id_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise web.HTTPBadRequest(
            text=json.dumps(error_body("invalid_request", "delete must be a list of prompt ids", repr(value))),
            content_type="application/json",
        )
    return [str(x) for x in value]


class _Routes:
    def __init__(self, state: ServerState) -> None:
        self.s = state

    # ------------------------------------------------------------ websocket

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sid = request.query.get("clientId") or uuid.uuid4().hex
        bus = self.s.bus
        bus.register(sid, ws, request.transport)
        try:
            await bus.send_now(ws, "status", status_data(self.s.queue.remaining(), sid), sid)
            runner = self.s.runner
            last = runner.last_node_id
            if runner.client_id == sid and last is not None:
                await bus.send_now(ws, "executing", {"node": last}, sid)
            first = True
            async for msg in ws:
                if msg.type != web.WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except json.JSONDecodeError:
                    continue
                if first and isinstance(data, dict) and data.get("type") == "feature_flags":
                    await bus.send_now(ws, "feature_flags", system.features(self.s.config.max_upload_bytes), sid)
                first = False
        finally:
            bus.unregister(sid, ws)
        return ws

    # ------------------------------------------------------------ prompts

    async def get_prompt(self, request: web.Request) -> web.Response:
        return web.json_response({"exec_info": {"queue_remaining": self.s.queue.remaining()}})

    async def post_prompt(self, request: web.Request) -> web.Response:
        body = _object_body(await _json_body(request))
        queue = self.s.queue
        if "number" in body:
            try:
                number: float = float(body["number"])
            except (TypeError, ValueError):
                number = math.nan
            if not math.isfinite(number):
                return _bad_request("invalid_prompt", "number must be a finite number", repr(body["number"]))
        else:
            number = queue.next_number(front=bool(body.get("front")))
        if "prompt" not in body:
            return _bad_request("no_prompt", "No prompt provided", "No prompt provided")
        prompt = body["prompt"]
        prompt_id = str(body["prompt_id"]) if body.get("prompt_id") is not None else str(uuid.uuid4())
        targets = body.get("partial_execution_targets")
        if targets is not None and not isinstance(targets, list):
            return _bad_request("invalid_prompt", "partial_execution_targets must be a list of node ids", repr(targets))
        if not isinstance(body.get("extra_data") or {}, dict):
            return _bad_request("invalid_prompt", "extra_data must be a JSON object", repr(body["extra_data"]))
        try:
            # Validation calls INPUT_TYPES and VALIDATE_INPUTS, which read folders and files: off the loop.
            validated = await asyncio.to_thread(self._validate, prompt, targets)
        except PromptValidationError as exc:
            log.warning("invalid prompt: %s", exc.describe())
            return web.json_response(exc.to_response(), status=400)

        extra_data = dict(body.get("extra_data") or {})
        if "client_id" in body:
            extra_data["client_id"] = body["client_id"]
        sensitive = {key: extra_data.pop(key) for key in SENSITIVE_EXTRA_DATA_KEYS if key in extra_data}
        extra_data["create_time"] = now_ms()
        item = QueueItem(number, prompt_id, prompt, extra_data, list(validated.outputs), sensitive, validated)
        queue.put(item)
        return web.json_response({"prompt_id": prompt_id, "number": number, "node_errors": validated.node_errors})

    def _validate(self, prompt: Any, targets: list[str] | None) -> Any:
        """The executor's validation, then the upload checks on every image a LoadImage names."""
        validated = validate_prompt(prompt, self.s.node_classes, targets=targets)
        node_errors = {}
        for node_id, node in validated.prompt.items():
            name = node.get("inputs", {}).get("image")
            if node.get("class_type") != "LoadImage" or not isinstance(name, str):
                continue
            try:
                path = files.resolve_input(self.s.folders, name)
                if path is not None:
                    files.check_image_file(path, name, self.s.config.max_upload_bytes, self.s.config.max_image_pixels)
            except files.FileRequestError as exc:
                node_errors[node_id] = {
                    "errors": [{"type": "custom_validation_failed", "message": "Custom validation failed for node",
                                "details": f"image - {exc.message}", "extra_info": {"input_name": "image"}}],
                    "dependent_outputs": list(validated.outputs),
                    "class_type": "LoadImage",
                }  # fmt: skip
        if node_errors:
            details = "\n".join(e["errors"][0]["details"] for e in node_errors.values())
            raise PromptValidationError(
                {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation",
                 "details": details, "extra_info": {}},
                node_errors,
            )  # fmt: skip
        return validated

    async def get_queue(self, request: web.Request) -> web.Response:
        running, pending = self.s.queue.snapshot()
        return web.json_response(
            {"queue_running": [i.public() for i in running], "queue_pending": [i.public() for i in pending]}
        )

    async def post_queue(self, request: web.Request) -> web.Response:
        body = _object_body(await _json_body(request))
        if body.get("clear"):
            self.s.queue.clear()
        if "delete" in body:
            self.s.queue.delete(_id_list(body["delete"]))
        return web.Response(status=200)

    async def interrupt(self, request: web.Request) -> web.Response:
        try:
            body = await _json_body(request, optional=True)
        except web.HTTPBadRequest:
            body = {}
        prompt_id = body.get("prompt_id") if isinstance(body, dict) else None
        if prompt_id:
            if not self.s.runner.interrupt(str(prompt_id)):
                log.info("interrupt for %s ignored: it is not running", prompt_id)
        else:
            self.s.runner.interrupt()
        return web.Response(status=200)

    async def free(self, request: web.Request) -> web.Response:
        body = _object_body(await _json_body(request, optional=True))
        for flag in ("unload_models", "free_memory"):
            if body.get(flag):
                self.s.queue.set_flag(flag, True)
        return web.Response(status=200)

    # ------------------------------------------------------------ history

    async def get_history(self, request: web.Request) -> web.Response:
        try:
            max_items = int(request.query["max_items"]) if "max_items" in request.query else None
            offset = int(request.query["offset"]) if "offset" in request.query else None
        except ValueError as exc:
            return _bad_request("invalid_request", "max_items and offset must be integers", str(exc))
        return web.json_response(self.s.history.list(max_items, offset))

    async def get_history_item(self, request: web.Request) -> web.Response:
        return web.json_response(self.s.history.get(request.match_info["prompt_id"]))

    async def post_history(self, request: web.Request) -> web.Response:
        body = _object_body(await _json_body(request))
        if body.get("clear"):
            self.s.history.clear()
        if "delete" in body:
            self.s.history.delete(_id_list(body["delete"]))
        return web.Response(status=200)

    # ------------------------------------------------------------ files

    async def view(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        if "filename" not in query:
            return web.Response(status=404, text="filename is required")
        try:
            path = files.resolve_view(self.s.folders, query["filename"], query.get("type"), query.get("subfolder"))
        except files.FileRequestError as exc:
            return web.Response(status=exc.status, text=exc.message)
        disposition = {"Content-Disposition": f'filename="{path.name}"'}
        try:
            if "preview" in query:
                data, content_type = await asyncio.to_thread(files.preview_bytes, path, query["preview"])
                return web.Response(body=data, content_type=content_type, headers=disposition)
            if query.get("channel") in ("rgb", "a"):
                data = await asyncio.to_thread(files.channel_bytes, path, query["channel"])
                return web.Response(body=data, content_type="image/png", headers=disposition)
        except OSError as exc:
            return web.Response(status=400, text=f"{path.name} cannot be converted: {exc}")
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if content_type in ("text/html", "application/xhtml+xml", "text/javascript", "text/css"):
            content_type = "application/octet-stream"  # never let a browser render served files
        return web.FileResponse(path, headers={**disposition, "Content-Type": content_type})

    async def upload_image(self, request: web.Request) -> web.Response:
        try:
            post = await request.post()
        except web.HTTPRequestEntityTooLarge:
            limit = self.s.config.max_upload_mb
            return _bad_request("upload_too_large", f"The upload is larger than the {limit:g} MB limit", "", status=413)
        except (HttpProcessingError, ValueError) as exc:
            return _bad_request("invalid_upload", "The multipart body could not be read", str(exc))
        image = post.get("image")
        if not isinstance(image, web.FileField):
            return _bad_request("invalid_upload", "Send the image as a multipart file field named 'image'")
        data = await asyncio.to_thread(image.file.read)
        try:
            result = await asyncio.to_thread(
                files.save_upload,
                self.s.folders,
                data,
                image.filename or "",
                subfolder=str(post.get("subfolder") or ""),
                folder_type=str(post.get("type") or "input"),
                overwrite=str(post.get("overwrite", "")) in ("true", "1"),
                max_pixels=self.s.config.max_image_pixels,
            )
        except files.FileRequestError as exc:
            return _bad_request("invalid_upload", exc.message, status=exc.status)
        if result["type"] == "input":
            kept = "/".join(part for part in (result["subfolder"].strip("/"), result["name"]) if part)
            removed = await asyncio.to_thread(prune_inputs, self.s, kept)
            if removed:
                log.info("input retention removed %d old upload(s)", len(removed))
        return web.json_response(result)

    # ------------------------------------------------------------ system

    async def object_info(self, request: web.Request) -> web.Response:
        _, text = await asyncio.to_thread(self.s.object_info.get)  # folder scans stay off the event loop
        return web.Response(text=text, content_type="application/json")

    async def object_info_node(self, request: web.Request) -> web.Response:
        name = request.match_info["node_class"]
        if name not in self.s.node_classes:
            return web.json_response({})
        info, _ = await asyncio.to_thread(self.s.object_info.get)
        return web.json_response({name: info[name]})

    async def system_stats(self, request: web.Request) -> web.Response:
        return web.json_response(system.system_stats(self.s.config.version))

    async def features(self, request: web.Request) -> web.Response:
        return web.json_response(system.features(self.s.config.max_upload_bytes))


def add_routes(app: web.Application, state: ServerState) -> None:
    """Every route at its path and again under /api, as ComfyUI serves them."""
    r = _Routes(state)
    table: list[tuple[str, str, Callable[..., Any]]] = [
        ("GET", "/ws", r.websocket),
        ("GET", "/prompt", r.get_prompt),
        ("POST", "/prompt", r.post_prompt),
        ("GET", "/queue", r.get_queue),
        ("POST", "/queue", r.post_queue),
        ("POST", "/interrupt", r.interrupt),
        ("POST", "/free", r.free),
        ("GET", "/history", r.get_history),
        ("GET", "/history/{prompt_id}", r.get_history_item),
        ("POST", "/history", r.post_history),
        ("GET", "/view", r.view),
        ("POST", "/upload/image", r.upload_image),
        ("GET", "/object_info", r.object_info),
        ("GET", "/object_info/{node_class}", r.object_info_node),
        ("GET", "/system_stats", r.system_stats),
        ("GET", "/features", r.features),
    ]
    for prefix in ("", "/api"):
        for method, path, handler in table:
            if method == "GET":
                app.router.add_get(prefix + path, handler)  # answers HEAD too, as ComfyUI's routes do
            else:
                app.router.add_post(prefix + path, handler)

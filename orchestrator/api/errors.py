"""Every error leaves the API as {"error": {"code", "message", "field"}}: no bare 500, no traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, params
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from orchestrator.core.errors import ServiceError

if TYPE_CHECKING:
    from fastapi._compat import ModelField

log = logging.getLogger(__name__)
_HTTP_CODES = {401: "not_authenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
               413: "too_large", 415: "unsupported_media_type"}


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": {"code": code, "message": message, "field": field}}, status_code=status,
                        headers=headers)


def _field(loc: tuple) -> str | None:
    names = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(names) or None


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _params(request: Request, kind: str) -> list[ModelField]:
    """The route's declared parameters of one kind (query, path, header, cookie, body), its dependencies' too."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None:
        return []
    return [f for d in _dependants(dependant) for f in getattr(d, f"{kind}_params", [])]


def _bounds(field: ModelField) -> str:
    """' from 1 to 100', ' of 1 or more', ... from the parameter's declared constraints."""
    limits = {name: getattr(item, name) for item in field.field_info.metadata
              for name in ("ge", "gt", "le", "lt") if getattr(item, name, None) is not None}
    if "ge" in limits and "le" in limits:
        return f" from {limits['ge']} to {limits['le']}"
    words = {"ge": "{} or more", "gt": "more than {}", "le": "{} or less", "lt": "less than {}"}
    parts = [words[name].format(value) for name, value in limits.items()]
    return " of " + " and ".join(parts) if parts else ""


def _param_message(request: Request, error: dict[str, Any], kind: str, name: str) -> str:
    """A query (path, header) parameter's error: its name, what it must be (its range) and what was sent."""
    declared = next((f for f in _params(request, kind) if f.alias == name), None)
    what = {"query": "Query parameter", "path": "Path parameter", "header": "Header", "cookie": "Cookie"}[kind]
    sent = error.get("input")
    got = f" (got '{sent[:40]}')" if isinstance(sent, str) and sent.isprintable() else ""
    if error.get("type") == "missing":
        return f"{what} '{name}' is required."
    annotation = declared.field_info.annotation if declared is not None else None
    if declared is not None and annotation in (int, float):
        noun = "a whole number" if annotation is int else "a number"
        return f"{what} '{name}' must be {noun}{_bounds(declared)}{got}."
    return f"{what} '{name}': {error.get('msg', 'is not valid')}{got}."


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _form_message(request: Request, error: dict[str, Any], name: str | None) -> str | None:
    """A multipart route's body errors: the wrong content type, or a file field sent as text."""
    body = _params(request, "body")
    files = {f.alias for f in body if isinstance(f.field_info, params.File)}
    if _content_type(request) != "multipart/form-data":
        sent = f"; this request was sent as {_content_type(request)}" if _content_type(request) else ""
        parts = [f"a file field '{f}'" for f in sorted(files)] + ["the workflow's parameters as form fields"]
        example = " ".join([f"-F {f}=@cat.png" for f in sorted(files)] + ['-F prompt="a cat"'])
        return (f"{request.method} {request.url.path} takes multipart/form-data: {' and '.join(parts)} "
                f"(see /api/workflows); with curl: {example}{sent}.")
    sent = error.get("input")
    if name in files and isinstance(sent, str):
        shown = sent if 0 < len(sent) <= 200 and sent.isprintable() and "@" not in sent else "cat.png"
        return (f"'{name}' must be sent as a file, not as text: with curl, -F {name}=@{shown} "
                f"(the @ sends the file's content).")
    if name in files and error.get("type") == "missing":
        return f"'{name}' is required: send the start image as a file, with curl -F {name}=@cat.png."
    return None


def _json_message(request: Request, error: dict[str, Any]) -> str | None:
    """A JSON route's body that is not a JSON object: what to send instead."""
    body = _params(request, "body")
    if not body:
        return None
    loc = tuple(error.get("loc", ()))
    shape_wrong = loc == ("body",) or error.get("type") == "json_invalid"
    json_type = _content_type(request) in ("application/json", "") or _content_type(request).endswith("+json")
    if not shape_wrong and json_type:
        return None
    model = body[0].field_info.annotation if len(body) == 1 else None
    names = list(getattr(model, "model_fields", {})) or [f.alias for f in body]
    shape = "{" + ", ".join(f'"{n}": ...' for n in names) + "}"
    why = ("the body is not valid JSON" if error.get("type") == "json_invalid"
           else f"the body was sent as {_content_type(request)}" if _content_type(request) else "the body is missing")
    return f"Send a JSON body {shape} with Content-Type: application/json; {why}."


def validation_message(request: Request, errors: Sequence[Any]) -> tuple[str, str | None]:
    """The message and field of FastAPI's request validation errors (the first one is reported)."""
    first = dict(errors[0]) if errors else {}
    loc = tuple(first.get("loc", ()))
    kind = str(loc[0]) if loc else ""
    if kind in ("query", "path", "header", "cookie") and len(loc) > 1:
        return _param_message(request, first, kind, str(loc[1])), str(loc[1])
    field = _field(loc)
    if kind == "body":
        if any(isinstance(f.field_info, params.Form) for f in _params(request, "body")):
            special = _form_message(request, first, field)
            if special is not None:
                return special, field
        elif (special := _json_message(request, first)) is not None:
            return special, None if loc == ("body",) or first.get("type") == "json_invalid" else field
    if first.get("type") == "missing":
        return (f"'{field}' is required." if field else "A required field is missing."), field
    what = first.get("msg", "is not valid")
    return (f"'{field}': {what}." if field else f"The request is not valid: {what}."), field


def install(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service(_: Request, exc: ServiceError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.field)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, field = validation_message(request, exc.errors())
        return error_response(422, "invalid_parameter", message, field)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "bad_request" if exc.status_code < 500 else "internal")
        detail = exc.detail if isinstance(exc.detail, str) else "The request could not be handled."
        return error_response(exc.status_code, code, detail)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "Something went wrong on the server; it has been logged. Try again.")

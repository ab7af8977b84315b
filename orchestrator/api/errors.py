"""Every error leaves the API as {"error": {"code", "message", "field"}}: no bare 500, no traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from orchestrator.core.errors import ServiceError

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


def install(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service(_: Request, exc: ServiceError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.field)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        field = _field(tuple(first.get("loc", ())))
        what = first.get("msg", "is not valid")
        message = f"'{field}': {what}." if field else f"The request is not valid: {what}."
        if first.get("type") == "missing":
            message = f"'{field}' is required." if field else "A required field is missing."
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

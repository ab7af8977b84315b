"""Security headers on every response, and an access log that never writes tokens (paths only)."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("orchestrator.access")

HEADERS = {
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    b"cross-origin-opener-policy": b"same-origin",
    b"permissions-policy": b"camera=(), microphone=(), geolocation=()",
    b"content-security-policy": (b"default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
                                 b"style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; "
                                 b"base-uri 'self'; form-action 'self'"),
}


class SecurityHeaders:
    """Pure ASGI (no BaseHTTPMiddleware), so streaming responses stay streams."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def wrapped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS.items() if k not in present]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        finally:
            # The path only: a query may carry ?access_token= (EventSource).
            log.info("%s %s %s %.1f ms", scope.get("method"), scope.get("path"), status,
                     (time.perf_counter() - started) * 1000)

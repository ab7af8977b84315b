"""Refuse cross-site requests to a server bound to loopback.

Browsers let any web page POST to 127.0.0.1. When the Host is a loopback name
and the request carries an Origin whose host differs, the request is refused
with 403, as ComfyUI does. Tools that send no Origin are unaffected.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _is_loopback(hostname: str | None) -> bool:
    if not hostname:
        return False
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def cross_site(host_header: str, origin_header: str) -> bool:
    """True when a loopback Host is reached from a page on another host."""
    host = urlsplit("//" + host_header.lower())
    origin = urlsplit(origin_header.lower())
    if not _is_loopback(host.hostname) or not origin.hostname:
        return False
    # Compare ports only when both sides name one (some browsers omit it).
    if host.port is not None and origin.port is not None:
        return (host.hostname, host.port) != (origin.hostname, origin.port)
    return host.hostname != origin.hostname


@web.middleware
async def origin_check(request: web.Request, handler: Handler) -> web.StreamResponse:
    host_header = request.headers.get("Host")
    origin_header = request.headers.get("Origin")
    if host_header and origin_header and cross_site(host_header, origin_header):
        return web.Response(status=403, text="cross-origin request refused")
    return await handler(request)

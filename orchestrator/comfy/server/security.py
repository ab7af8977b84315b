"""Refuse cross-site requests and DNS rebinding.

Browsers let any web page POST to 127.0.0.1. When the Host is a loopback name
and the request carries an Origin whose host differs, the request is refused
with 403, as ComfyUI does. Tools that send no Origin are unaffected.

DNS rebinding gets around that check: a page on evil.example re-resolves its own
name to 127.0.0.1, so Origin and Host agree. The Host allow-list stops it: only
requests whose Host names an allowed host are served (127.0.0.1, localhost and
::1 by default, plus the address the server listens on when it is a specific
one; `WAN_I2V_ALLOWED_HOSTS=name1,name2` or `ServerConfig.allowed_hosts` add
more, `*` allows any). Requests without a Host header (not a browser) pass.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Awaitable, Callable, Collection
from urllib.parse import urlsplit

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
ALLOWED_HOSTS_ENV = "WAN_I2V_ALLOWED_HOSTS"


def default_allowed_hosts() -> tuple[str, ...]:
    """The loopback names, plus any listed in WAN_I2V_ALLOWED_HOSTS (comma-separated)."""
    extra = [h.strip().lower() for h in os.environ.get(ALLOWED_HOSTS_ENV, "").split(",") if h.strip()]
    return (*LOOPBACK_HOSTS, *extra)


def host_allowed(host_header: str, allowed: Collection[str]) -> bool:
    """True when the Host header's name (port ignored) is in `allowed`, or `allowed` holds "*"."""
    names = {name.lower().strip("[]") for name in allowed}
    if "*" in names:
        return True
    try:
        hostname = urlsplit("//" + host_header.strip().lower()).hostname
    except ValueError:
        return False
    return hostname is not None and hostname in names


def host_check(allowed: Callable[[], Collection[str]]) -> Middleware:
    """Middleware answering 403 to a Host that is not allowed; `allowed` is read per request."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        host_header = request.headers.get("Host")
        if host_header is not None and not host_allowed(host_header, allowed()):
            return web.Response(
                status=403,
                text=f"Host '{host_header}' is not allowed (DNS-rebinding protection); "
                f"add it with `wan-i2v comfy serve --allow-host NAME` or {ALLOWED_HOSTS_ENV} to serve it.",
            )
        return await handler(request)

    return check


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

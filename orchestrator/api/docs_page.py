"""The interactive API docs at /docs, served by this server alone.

FastAPI's own page loads Swagger UI from a CDN, which the server's content security policy
(middleware.py) rightly refuses, and which an offline machine cannot reach. Swagger UI's files
come from the fastapi-offline package instead, and the page's one inline script is allowed by
its hash rather than by 'unsafe-inline'.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
ASSETS_URL = "/docs-assets"


def _assets() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def policy_for(html: str) -> str:
    """The page's content security policy: this server's sources, plus its inline scripts by hash."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    )
    return (f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")  # fmt: skip


def install(app: FastAPI) -> None:
    """Serve /docs and its files (create the app with docs_url=None, so that FastAPI's own page stays off)."""
    app.mount(ASSETS_URL, StaticFiles(directory=_assets()), name="docs-assets")
    html = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title}: API",
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
    ).body.decode()
    headers = {"content-security-policy": policy_for(html)}

    @app.get(DOCS_URL, include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(html, headers=headers)

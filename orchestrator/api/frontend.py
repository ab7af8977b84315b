"""The built web page (frontend/dist) at /, with the page's own routes falling back to index.html."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse

from .errors import error_response

NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>wan-i2v</title>
<p>The web page is not built. Run <code>make run</code> (or <code>npm --prefix frontend ci &&
npm --prefix frontend run build</code>). The API is at <a href="/docs">/docs</a>.</p>"""


def mount(app: FastAPI, dist: Path) -> None:
    root = dist.resolve()

    @app.api_route("/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def page(path: str, request: Request):  # type: ignore[no-untyped-def]
        if path.startswith("api/") or path == "api":
            return error_response(404, "not_found", f"No API route {request.url.path}.")
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT)
        if path:
            candidate = (root / path).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
                cache = "public, max-age=31536000, immutable" if path.startswith("assets/") else "no-cache"
                return FileResponse(candidate, headers={"Cache-Control": cache})
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

"""The OpenAPI document without a database or a dispatcher (for `wan-i2v openapi` and the page's client)."""

from __future__ import annotations

import tempfile
from typing import Any


def document() -> dict[str, Any]:
    from orchestrator.core.settings import Settings

    from .app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, DATABASE_URL=f"sqlite:///{tmp}/openapi.db", DEV_MODE=True,  # type: ignore[call-arg]
                            VIDEOS_DIR=f"{tmp}/v", UPLOADS_DIR=f"{tmp}/u", FRONTEND_DIST=f"{tmp}/dist")
        return create_app(settings, dispatch=False, migrate=False).openapi()

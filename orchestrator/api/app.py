"""The FastAPI application: `create_app(settings)`; `wan-i2v serve` runs it with uvicorn.

On start it migrates the database (unless told not to), and, when `dispatch` is on,
runs the dispatcher (scheduler, reaper and the local or Celery executor) in this process.
This module never imports torch.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from orchestrator.core.db import session_factory, upgrade
from orchestrator.core.settings import Settings, get_settings
from orchestrator.jobs.store import JobStore
from orchestrator.users.store import UserStore

from . import docs_page, errors, frontend
from .middleware import SecurityHeaders
from .ratelimit import LoginLimiter
from .routes import auth, jobs, system
from .services import Services

log = logging.getLogger(__name__)
API_THREADS = 16  # threads for the routes that wait on the database (see lifespan)


def build_services(settings: Settings, migrate: bool = True) -> Services:
    secret = settings.signing_secret()  # refuses a placeholder outside dev mode
    if migrate:
        upgrade(settings.DATABASE_URL)
    factory = session_factory(settings.DATABASE_URL)
    for folder in (settings.VIDEOS_DIR, settings.UPLOADS_DIR):
        Path(folder).mkdir(parents=True, exist_ok=True)
    return Services(settings=settings, jobs=JobStore(factory, settings.RETRY_LIMIT), users=UserStore(factory),
                    secret=secret, limiter=LoginLimiter(settings.LOGIN_RATE_LIMIT))


def create_app(
    settings: Settings | None = None,
    dispatch: bool = True,
    migrate: bool = True,
    on_stop: Callable[[], None] | None = None,
) -> FastAPI:
    """`on_stop` runs at shutdown, after the dispatcher stopped (uvicorn re-raises SIGTERM after it)."""
    settings = settings or get_settings()
    services = build_services(settings, migrate)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The database-bound routes run in anyio's thread pool. Its default 40 threads contend for the GIL
        # and the database's write lock: 16 gave a median 1.5x the submit throughput at 100 clients
        # (docs/benchmarks.md, API latency).
        anyio.to_thread.current_default_thread_limiter().total_tokens = API_THREADS
        if dispatch:
            from orchestrator.dispatch import build_dispatcher

            services.dispatcher = build_dispatcher(settings, services.jobs, settings.comfyui_urls)
            await services.dispatcher.start()
        try:
            yield
        finally:
            if services.dispatcher is not None:
                await services.dispatcher.stop()
                services.dispatcher = None
            if on_stop is not None:
                on_stop()

    app = FastAPI(
        title="wan-i2v orchestrator",
        version="1",
        description="Image-to-video jobs on WAN 2.1: log in, submit an image and a prompt, follow the job, "
                    "download the video. Errors are {\"error\": {code, message, field}}.",
        lifespan=lifespan,
        docs_url=None,  # docs_page.py serves /docs without a CDN
        redoc_url=None,
    )
    app.state.services = services
    errors.install(app)
    app.include_router(auth.router)
    app.include_router(jobs.router)
    app.include_router(system.router)
    docs_page.install(app)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type",
                                                                         "Last-Event-ID"])
    app.add_middleware(SecurityHeaders)
    frontend.mount(app, Path(settings.FRONTEND_DIST))
    return app

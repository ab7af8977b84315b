"""A real orchestrator API on 127.0.0.1 (uvicorn in a thread), without dispatch, over a fresh SQLite."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_support import Api, make_settings, run_server  # noqa: E402

from orchestrator.api.app import create_app  # noqa: E402
from orchestrator.core.db import get_engine  # noqa: E402


@pytest.fixture(scope="session")
def api_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database with three users, made once and copied for each test (argon2 and Alembic are slow)."""
    folder = tmp_path_factory.mktemp("api-template")
    app = create_app(make_settings(folder), dispatch=False)
    users = app.state.services.users
    users.add("alice", "alice-password")
    users.add("bob", "bob-password")
    users.add("root", "root-password", role="admin")
    get_engine(app.state.services.settings.DATABASE_URL).dispose()  # the last close folds the WAL into the file
    return folder / "service.db"


@pytest.fixture
def api(tmp_path: Path, api_template: Path) -> Iterator[Api]:
    shutil.copy(api_template, tmp_path / "service.db")
    settings = make_settings(tmp_path)
    app = create_app(settings, dispatch=False, migrate=False)
    server, thread, url = run_server(app)
    try:
        yield Api(url, settings, app)
    finally:
        server.should_exit = True
        thread.join(10)

"""Databases for the service's tests: SQLite in a temp folder, and the PostgreSQL on this machine.

PostgreSQL tests use a private schema per test (dropped afterwards) in the database at
$TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test) and skip, saying so,
when it is not reachable.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from orchestrator.core.db import get_engine, normalize_url, upgrade

POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def sqlite_url(folder: Path) -> str:
    url = f"sqlite:///{folder / 'service.db'}"
    upgrade(url)
    return url


def postgres_url() -> Iterator[str]:
    admin = create_engine(normalize_url(POSTGRES), isolation_level="AUTOCOMMIT")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - any failure to reach it means: skip
        admin.dispose()
        pytest.skip(f"PostgreSQL at {POSTGRES} is not reachable ({type(exc).__name__}); set TEST_POSTGRES_URL")
    sep = "&" if "?" in POSTGRES else "?"
    url = f"{POSTGRES}{sep}options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        get_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

"""(settings, store) for `wan-i2v worker` processes started by the tests (WAN_I2V_STORE_FACTORY)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

from orchestrator.core.db import session_factory
from orchestrator.jobs.store import JobStore

NUMBERS = ("JOB_TIMEOUT_S", "PROGRESS_SILENCE_S", "HEARTBEAT_S", "HEARTBEAT_STALE_S", "DISPATCH_POLL_S")


def make() -> tuple[SimpleNamespace, JobStore]:
    env = os.environ
    settings = SimpleNamespace(
        BROKER_URL=env["TEST_BROKER_URL"],
        VIDEOS_DIR=Path(env["TEST_VIDEOS_DIR"]),
        RETRY_LIMIT=int(env.get("TEST_RETRY_LIMIT", "3")),
        **{name: float(env[f"TEST_{name}"]) for name in NUMBERS},
    )
    return settings, JobStore(session_factory(env["TEST_DATABASE_URL"]), settings.RETRY_LIMIT)

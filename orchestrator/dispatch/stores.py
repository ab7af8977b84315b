"""The settings and job store a worker process uses.

By default the service's own (DATABASE_URL and the rest from the environment and
.env). WAN_I2V_STORE_FACTORY=module:function names another function returning
(settings, store), e.g. a store with extra instrumentation.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

FACTORY_ENV = "WAN_I2V_STORE_FACTORY"


def settings_and_store() -> tuple[Any, Any]:
    spec = os.environ.get(FACTORY_ENV)
    if spec:
        module, _, name = spec.partition(":")
        return getattr(importlib.import_module(module), name)()
    from orchestrator.core.db import session_factory
    from orchestrator.core.settings import get_settings
    from orchestrator.jobs.store import JobStore

    settings = get_settings()
    return settings, JobStore(session_factory(settings.DATABASE_URL), settings.RETRY_LIMIT)

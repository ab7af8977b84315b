"""What the routes share, built once per app: settings, stores, the dispatcher, the login limiter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.core.settings import Settings
from orchestrator.jobs.store import JobStore
from orchestrator.users.store import UserStore

from .ratelimit import LoginLimiter


@dataclass
class Services:
    settings: Settings
    jobs: JobStore
    users: UserStore
    secret: str
    limiter: LoginLimiter
    dispatcher: Any = None  # orchestrator.dispatch.Dispatcher, when this process dispatches
    extra: dict[str, Any] = field(default_factory=dict)

    def wake(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.wake()

"""Failed logins per user name and per client address, in a sliding minute (per process)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

from orchestrator.core.errors import RateLimited

WINDOW_S = 60.0


class LoginLimiter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        hits = self._failures[key]
        while hits and now - hits[0] > WINDOW_S:
            hits.popleft()
        return hits

    def check(self, username: str, address: str) -> None:
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        with self._lock:
            for key in (f"user:{username.lower()}", f"addr:{address}"):
                hits = self._recent(key, now)
                if len(hits) >= self.per_minute:
                    wait = int(WINDOW_S - (now - hits[0])) + 1
                    raise RateLimited(f"Too many failed logins; try again in {wait} s.")

    def failed(self, username: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in (f"user:{username.lower()}", f"addr:{address}"):
                self._recent(key, now).append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(f"user:{username.lower()}", None)

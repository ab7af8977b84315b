"""Fixtures of the reliability and security tests: a real API server over SQLite with users, and the
helpers of the service tests (processes: `wan-i2v serve`, instances, workers)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for extra in (HERE, ROOT / "tests" / "orchestrator", ROOT / "tests" / "orchestrator" / "api"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

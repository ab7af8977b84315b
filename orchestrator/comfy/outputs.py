"""Reading a finished prompt's outputs (ComfyUI's history `outputs`: node id -> its UI entries)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STATS_KEY = "wan_stats"  # the UI entry WanI2VSampler reports what it did under


def sampler_stats(outputs: Mapping[str, Mapping[str, Any]]) -> Any:
    """What the pack's sampler did (passes computed/skipped, cache, attention): its stats dict, or a list
    of them when a prompt has several samplers ([] without one)."""
    stats = [s for ui in outputs.values() for s in (ui.get(STATS_KEY) or [])]
    return stats[0] if len(stats) == 1 else stats

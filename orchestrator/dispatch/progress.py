"""A job's overall progress from its nodes' own: the bar moves through the whole run.

The sampler's steps are nearly all of a run's time on real weights, so they span most of the
bar; the encodes before it and the decode and save after it get a small share each, so that the
bar neither waits at 0 % while the start image is encoded nor sits at 100 % while the video is
decoded. Only a finished job reaches 100 % (store.succeed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.executor.graph import upstream

BEFORE = 0.05  # the encodes before the sampler: 0 % to 5 %
AFTER = 0.95  # the sampler's steps: 5 % to 95 %; decode and save: 95 % to 99 %
LAST = 0.99


def samplers(graph: Mapping[str, Any]) -> set[str]:
    return {k for k, n in graph.items() if "Sampler" in str(n.get("class_type", ""))}


def overall(graph: Mapping[str, Any], node_id: Any, value: int, total: int) -> float:
    """The job's share done when `node_id` reports `value` of `total`."""
    share = value / total if total else 0.0
    found = samplers(graph)
    node = str(node_id)
    if not found:  # a graph without a sampler: its nodes' steps are all there is
        return min(share, LAST)
    if node in found:
        return BEFORE + (AFTER - BEFORE) * share
    if node in upstream(graph, found) - found:  # the encodes the samplers need
        return BEFORE * share
    return AFTER + (LAST - AFTER) * share


"""The small clip a run on the demo model defaults to, per workflow (no torch: the API process reads it)."""

from __future__ import annotations

from typing import Any

from comfy_nodes.models import demo_files

from .registry import Workflow


def demo_size(workflow: Workflow) -> dict[str, Any]:
    """The demo's size and steps; a workflow made for fewer steps than the demo's (a fast one) keeps its own."""
    size: dict[str, Any] = dict(demo_files.SIZE)
    steps = next((p.default for p in workflow.manifest.parameters if p.name == "steps"), None)
    if isinstance(steps, int) and steps < size["steps"]:
        size["steps"] = steps
    return size

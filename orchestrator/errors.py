"""Errors of the orchestrator's own steps (the executor and workflows have theirs)."""

from __future__ import annotations


class RunError(Exception):
    """A run finished in a state that gives the user nothing (e.g. no video saved)."""

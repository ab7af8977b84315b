"""The orchestrator's error tree: one base, so callers can catch everything it raises on purpose.

    OrchestratorError
    ├── ConfigError              a setting out of range (also a ValueError)
    ├── RunError                 a run cannot start or gave the user nothing (e.g. no video saved)
    │   └── ModelFilesMissing    model files the workflow names are not in the models folder
    ├── ExecutorError            (orchestrator/executor/errors.py)
    │   ├── PromptValidationError   rejected before anything ran (ComfyUI's 400 body)
    │   ├── ExecutionFailed         a node raised
    │   ├── ExecutionInterrupted    an interrupt was requested
    │   └── GraphCycleError         a cycle in a graph that skipped validation
    └── FileRequestError         a bad /view or /upload request to the embedded server (its HTTP status)

The node pack's errors live under `comfy_nodes.errors.WanI2VError`; the command line
turns both trees into plain messages. This module imports nothing heavy.
"""

from __future__ import annotations


class OrchestratorError(Exception):
    """Base class of every error the orchestrator raises on purpose."""


class ConfigError(OrchestratorError, ValueError):
    """A setting is out of range."""


class RunError(OrchestratorError):
    """A run cannot start, or it finished in a state that gives the user nothing (e.g. no video saved)."""


class ModelFilesMissing(RunError):
    """Model files the workflow names are not in the models folder (found before any model loads)."""

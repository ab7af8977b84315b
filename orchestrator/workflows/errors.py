"""Errors raised by the workflow registry.

WorkflowError
├── WorkflowNotFoundError   no released workflow by that name or version
├── WorkflowFormatError     a manifest, API or UI file is malformed
└── WorkflowParameterError  an unknown parameter, or a value of the wrong type or out of bounds
"""

from __future__ import annotations

from orchestrator.errors import OrchestratorError


class WorkflowError(OrchestratorError):
    """Base class of the registry's errors."""


class WorkflowNotFoundError(WorkflowError):
    pass


class WorkflowFormatError(WorkflowError):
    pass


class WorkflowParameterError(WorkflowError):
    pass

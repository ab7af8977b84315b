"""Errors raised by the executor, under the orchestrator's one base.

OrchestratorError (orchestrator.errors)
└── ExecutorError
    ├── PromptValidationError   the prompt was rejected before anything ran (ComfyUI's 400 body)
    ├── ExecutionFailed         a node raised; carries what ComfyUI's `execution_error` event carries
    ├── ExecutionInterrupted    an interrupt was requested; carries `execution_interrupted`'s fields
    └── GraphCycleError         a graph that should have been validated has a cycle (also a ValueError)
"""

from __future__ import annotations

from typing import Any

from ..errors import OrchestratorError


class ExecutorError(OrchestratorError):
    """Base class of the executor's errors."""


class PromptValidationError(ExecutorError):
    """The prompt failed validation.

    `error` is `{"type","message","details","extra_info"}` and `node_errors` is
    `{node_id: {"errors": [...], "dependent_outputs": [...], "class_type": str}}`,
    exactly the two parts of ComfyUI's 400 response to POST /prompt.
    """

    def __init__(self, error: dict[str, Any], node_errors: dict[str, Any] | None = None) -> None:
        self.error = error
        self.node_errors = node_errors or {}
        super().__init__(self.describe())

    def describe(self) -> str:
        """The message and details as readable lines."""
        text = self.error.get("message", "Prompt validation failed")
        details = self.error.get("details")
        return f"{text}\n{details}" if details else text

    def to_response(self) -> dict[str, Any]:
        """The JSON body ComfyUI answers with (HTTP 400)."""
        return {"error": self.error, "node_errors": self.node_errors}


class ExecutionFailed(ExecutorError):
    """A node raised an exception while running."""

    def __init__(
        self,
        *,
        node_id: str,
        node_type: str,
        exception: BaseException,
        traceback: list[str],
        executed: list[str],
        current_inputs: dict[str, Any],
    ) -> None:
        self.node_id = node_id
        self.node_type = node_type
        self.exception = exception
        self.exception_message = str(exception)
        self.exception_type = qualified_type_name(exception)
        self.traceback = traceback
        self.executed = executed
        self.current_inputs = current_inputs
        super().__init__(f"Node {node_id} ({node_type}) failed: {self.exception_type}: {self.exception_message}")


class ExecutionInterrupted(ExecutorError):
    """The run stopped because an interrupt was requested."""

    def __init__(self, *, node_id: str, node_type: str, executed: list[str]) -> None:
        self.node_id = node_id
        self.node_type = node_type
        self.executed = executed
        super().__init__(f"Interrupted at node {node_id} ({node_type})")


class GraphCycleError(ExecutorError, ValueError):
    """The graph's links form a cycle (validation reports cycles first; this guards the run)."""


def qualified_type_name(exc: BaseException) -> str:
    """`module.Class` as ComfyUI reports it; builtins go without a module."""
    cls = type(exc)
    if cls.__module__ in (None, "builtins"):
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"

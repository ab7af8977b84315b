"""The orchestrator's errors sit under OrchestratorError, with the existing names kept."""

from __future__ import annotations

import pytest

from orchestrator import errors, executor, runner
from orchestrator.comfy.server import files
from orchestrator.comfy.server.history import History
from orchestrator.errors import OrchestratorError
from orchestrator.executor.graph import topological_order


@pytest.mark.parametrize(
    "cls",
    [
        errors.RunError,
        errors.ModelFilesMissing,
        errors.ConfigError,
        executor.ExecutorError,
        executor.PromptValidationError,
        executor.ExecutionFailed,
        executor.ExecutionInterrupted,
        executor.GraphCycleError,
        files.FileRequestError,
    ],
)
def test_each_error_is_an_orchestrator_error(cls: type) -> None:
    assert issubclass(cls, OrchestratorError)


def test_names_and_compatibility_are_kept() -> None:
    assert runner.RunError is errors.RunError
    assert issubclass(errors.ModelFilesMissing, errors.RunError)
    with pytest.raises(errors.ConfigError):
        History(max_items=0)
    with pytest.raises(ValueError):  # still a ValueError for callers that caught that
        History(max_items=0)


def test_a_cycle_raises_the_named_error() -> None:
    prompt = {"1": {"class_type": "X", "inputs": {"a": ["2", 0]}}, "2": {"class_type": "X", "inputs": {"a": ["1", 0]}}}
    with pytest.raises(executor.GraphCycleError):
        topological_order(prompt, {"1", "2"})

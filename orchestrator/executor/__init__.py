"""Run ComfyUI API-format prompts in-process with the node pack's classes.

    validated = validate_prompt(prompt, node_classes)      # raises PromptValidationError
    executor = Executor(node_classes)                       # keeps a per-node output cache between runs
    result = executor.execute(validated, prompt_id, hooks)  # raises ExecutionFailed / ExecutionInterrupted

- PromptValidationError: `.error` and `.node_errors` in ComfyUI's 400 shape (`.to_response()`).
- ValidatedPrompt: `.prompt` (normalised copy), `.outputs` (output node ids that passed), `.node_errors`.
- ExecutionHooks: subclass and override what you need (all no-ops by default):
    on_start(prompt_id)
    on_cached(prompt_id, node_ids: list[str])
    on_executing(prompt_id, node_id: str, class_type: str)
    on_progress(prompt_id, node_id: str, value: int, total: int)
    on_executed(prompt_id, node_id: str, ui: dict)
- ExecutionResult: `.outputs` {node_id: ui}, `.cached` [ids], `.executed` [ids that ran], `.timings` {node_id: s}.
- ExecutionFailed: `.node_id`, `.node_type`, `.exception`, `.exception_message`, `.exception_type`,
  `.traceback` (list[str]), `.executed` (finished ids, cached included), `.current_inputs`.
- ExecutionInterrupted: `.node_id`, `.node_type`, `.executed`.
- All of them derive from ExecutorError, itself an orchestrator.errors.OrchestratorError.
"""

from .errors import ExecutionFailed, ExecutionInterrupted, ExecutorError, GraphCycleError, PromptValidationError
from .execute import ExecutionHooks, ExecutionResult, Executor
from .validate import ValidatedPrompt, validate_prompt

__all__ = [
    "ExecutionFailed",
    "ExecutionHooks",
    "ExecutionInterrupted",
    "ExecutionResult",
    "Executor",
    "ExecutorError",
    "GraphCycleError",
    "PromptValidationError",
    "ValidatedPrompt",
    "validate_prompt",
]

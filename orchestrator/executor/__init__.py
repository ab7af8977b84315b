"""Run ComfyUI API-format prompts in-process with the node pack's classes.

Public contract (used by the CLI `wan-i2v run` and the embedded worker):

    from orchestrator.executor import (
        PromptValidationError,   # .error (dict) and .node_errors (dict) in ComfyUI's 400 shape
        ValidatedPrompt,         # .prompt (dict), .outputs (list[str] output node ids), .node_errors (dict)
        ExecutionHooks,          # callbacks, all optional (no-op defaults)
        ExecutionResult,         # .outputs {node_id: ui_dict}, .cached [ids], .executed [ids], .timings {node_id: s}
        ExecutionFailed,         # .node_id, .node_type, .exception, .traceback (list[str]), .executed
        ExecutionInterrupted,    # .node_id, .node_type, .executed
        Executor,
        validate_prompt,
    )

    validated = validate_prompt(prompt, node_classes)      # raises PromptValidationError
    executor = Executor(node_classes)                       # keeps a per-node output cache between runs
    result = executor.execute(validated, prompt_id, hooks)  # raises ExecutionFailed / ExecutionInterrupted

Hooks (ExecutionHooks subclass, override what you need):
    on_start(prompt_id)
    on_cached(prompt_id, node_ids: list[str])
    on_executing(prompt_id, node_id: str, class_type: str)
    on_progress(prompt_id, node_id: str, value: int, total: int)
    on_executed(prompt_id, node_id: str, ui: dict)
"""

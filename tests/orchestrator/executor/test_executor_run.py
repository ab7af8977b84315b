"""Executor.execute: order, linking, hooks, progress, interrupt and failure reports."""

from __future__ import annotations

import json

import pytest

from comfy_nodes import host
from orchestrator.executor import ExecutionFailed, ExecutionInterrupted, Executor, validate_prompt


def chain_prompt(steps: int = 3) -> dict:
    return {
        "10": {"class_type": "Number", "inputs": {"value": 4}},
        "2": {"class_type": "Number", "inputs": {"value": 1}},
        "3": {"class_type": "Add", "inputs": {"a": ["10", 0], "b": ["2", 0]}},
        "4": {"class_type": "Steps", "inputs": {"value": ["3", 0], "steps": steps}},
        "5": {"class_type": "Stats", "inputs": {"value": ["4", 0]}},
        "6": {"class_type": "ShowInt", "inputs": {"value": ["5", 0]}},
        "7": {"class_type": "Number", "inputs": {"value": 9}},  # feeds no output: never runs
    }


def run(fake, prompt: dict, hooks=None, executor: Executor | None = None, prompt_id: str = "p1"):
    executor = executor or Executor(fake.classes)
    return executor.execute(validate_prompt(prompt, fake.classes), prompt_id, hooks)


def test_runs_needed_nodes_in_dependency_order_with_links(fake, hooks):
    result = run(fake, chain_prompt(), hooks)
    assert result.executed == ["2", "10", "3", "4", "5", "6"]  # smallest ready id first
    assert result.cached == []
    assert result.outputs == {"5": {"stats": [{"seen": 10}]}, "6": {"value": [11]}}  # (4 + 1) * 2 + 1
    assert set(result.timings) == set(result.executed)
    assert all(seconds >= 0 for seconds in result.timings.values())
    assert fake.calls == ["Number", "Number", "Add", "Steps", "Stats", "ShowInt"]


def test_hook_order_and_progress_routing(fake, hooks):
    run(fake, chain_prompt(steps=2), hooks)
    assert hooks.events[:2] == [("start", "p1"), ("cached", [])]
    assert hooks.events[2:] == [
        ("executing", "2", "Number"),
        ("executing", "10", "Number"),
        ("executing", "3", "Add"),
        ("executing", "4", "Steps"),
        ("progress", "4", 1, 2),
        ("progress", "4", 2, 2),
        ("executing", "5", "Stats"),
        ("executed", "5", {"stats": [{"seen": 10}]}),
        ("executing", "6", "ShowInt"),
        ("executed", "6", {"value": [11]}),
    ]
    assert host._progress_hook is None  # cleared after the run


def test_hidden_inputs(fake):
    prompt = {"1": {"class_type": "WhoAmI", "inputs": {}}}
    result = run(fake, prompt)
    assert result.outputs == {"1": {"id": ["1"], "nodes": [1]}}


def test_failure_carries_comfyui_error_fields(fake, hooks):
    prompt = {
        "1": {"class_type": "Number", "inputs": {"value": 6}},
        "2": {"class_type": "Boom", "inputs": {"value": ["1", 0]}},
        "3": {"class_type": "ShowInt", "inputs": {"value": ["2", 0]}},
    }
    with pytest.raises(ExecutionFailed) as info:
        run(fake, prompt, hooks)
    failure = info.value
    assert (failure.node_id, failure.node_type) == ("2", "Boom")
    assert isinstance(failure.exception, ValueError)
    assert failure.exception_message == "cannot handle 6"
    assert failure.exception_type == "ValueError"
    assert failure.executed == ["1"]
    assert failure.current_inputs == {"value": 6}
    assert any("explode" in line for line in failure.traceback)
    json.dumps({"traceback": failure.traceback, "inputs": failure.current_inputs})
    assert ("executing", "3", "ShowInt") not in hooks.events


def test_interrupt_between_nodes(fake, hooks):
    class InterruptAfterFirst(type(hooks)):
        def on_executing(self, prompt_id, node_id, class_type):
            super().on_executing(prompt_id, node_id, class_type)
            if node_id == "10":
                host.request_interrupt()

    hooks = InterruptAfterFirst()
    with pytest.raises(ExecutionInterrupted) as info:
        run(fake, chain_prompt(), hooks)
    assert (info.value.node_id, info.value.node_type) == ("3", "Add")
    assert info.value.executed == ["2", "10"]
    assert "Add" not in fake.calls


def test_interrupt_inside_a_node_at_a_progress_tick(fake, hooks):
    fake.classes["Steps"].interrupt_at = 1
    with pytest.raises(ExecutionInterrupted) as info:
        run(fake, chain_prompt(steps=5), hooks)
    assert info.value.node_id == "4"
    assert info.value.executed == ["2", "10", "3"]
    progress = [e for e in hooks.events if e[0] == "progress"]
    assert progress == [("progress", "4", 1, 5), ("progress", "4", 2, 5)]  # stopped at the tick after the request


def test_a_stale_interrupt_is_cleared_when_a_prompt_starts(fake):
    host.request_interrupt()
    result = run(fake, chain_prompt())
    assert result.outputs["6"] == {"value": [11]}


def test_node_returning_a_non_tuple_fails_clearly(fake):
    class Bad:
        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {}}

        RETURN_TYPES = ("INT",)
        FUNCTION = "run"

        def run(self):
            return 5

    fake.classes["Bad"] = Bad
    prompt = {"1": {"class_type": "Bad", "inputs": {}}, "2": {"class_type": "ShowInt", "inputs": {"value": ["1", 0]}}}
    with pytest.raises(ExecutionFailed) as info:
        run(fake, prompt)
    assert info.value.node_id == "1"
    assert "must return a tuple" in info.value.exception_message

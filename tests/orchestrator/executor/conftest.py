"""Small node classes for executor tests, built fresh for every test (each with its own call log)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from comfy_nodes import host
from orchestrator.executor import ExecutionHooks


@dataclass
class FakeNodes:
    classes: dict[str, type]
    calls: list[str] = field(default_factory=list)  # class names, in call order


def build_fake_nodes() -> FakeNodes:
    nodes = FakeNodes(classes={})
    calls = nodes.calls

    class Number:
        @classmethod
        def INPUT_TYPES(cls) -> dict:
            return {"required": {"value": ("INT", {"default": 1, "min": 0, "max": 100, "tooltip": "a number"})}}

        RETURN_TYPES = ("INT",)
        FUNCTION = "make"

        def make(self, value: int) -> tuple[int]:
            calls.append("Number")
            return (value,)

    class Add:
        @classmethod
        def INPUT_TYPES(cls) -> dict:
            return {"required": {"a": ("INT", {}), "b": ("INT", {})}, "optional": {"c": ("INT", {"default": 0})}}

        RETURN_TYPES = ("INT",)
        FUNCTION = "add"

        def add(self, a: int, b: int, c: int = 0) -> tuple[int]:
            calls.append("Add")
            return (a + b + c,)

    class Settings:
        @classmethod
        def INPUT_TYPES(cls) -> dict:
            return {
                "required": {
                    "mode": (["fast", "slow"], {"default": "fast"}),
                    "scale": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 10.0, "round": 0.01}),
                    "flag": ("BOOLEAN", {"default": False}),
                    "label": ("STRING", {"default": ""}),
                },
                "optional": {"items": ("*", {})},
            }

        RETURN_TYPES = ("SETTINGS",)
        FUNCTION = "make"

        def make(self, mode: str, scale: float, flag: bool, label: str, items: Any = None) -> tuple[dict]:
            calls.append("Settings")
            return ({"mode": mode, "scale": scale, "flag": flag, "label": label, "items": items},)

    class Show:
        @classmethod
        def INPUT_TYPES(cls) -> dict:
            return {"required": {"value": ("*", {})}}

        RETURN_TYPES = ()
        FUNCTION = "show"
        OUTPUT_NODE = True

        def show(self, value: Any) -> dict:
            calls.append("Show")
            return {"ui": {"text": [repr(value)]}}

    class ShowInt:
        @classmethod
        def INPUT_TYPES(cls) -> dict:
            return {"required": {"value": ("INT", {})}}

        RETURN_TYPES = ()
        FUNCTION = "show"
        OUTPUT_NODE = True

        def show(self, value: int) -> dict:
            calls.append("ShowInt")
            return {"ui": {"value": [value]}}

    class Steps:
        """Ticks host.Progress once per step; each tick is an interrupt point."""

        interrupt_at: int | None = None

        @classmethod
        def INPUT_TYPES(cls) -> dict:
            return {"required": {"value": ("INT", {}), "steps": ("INT", {"default": 3, "min": 1, "max": 50})}}

        RETURN_TYPES = ("INT",)
        FUNCTION = "run"

        def run(self, value: int, steps: int) -> tuple[int]:
            calls.append("Steps")
            bar = host.Progress(steps)
            for step in range(steps):
                if step == Steps.interrupt_at:
                    host.request_interrupt()
                bar.update(1)
            return (value * 2,)

    class Stats:
        """Not an output node, but returns a ui (its ui still lands in the outputs)."""

        @classmethod
        def INPUT_TYPES(cls) -> dict:
            return {"required": {"value": ("INT", {})}}

        RETURN_TYPES = ("INT",)
        FUNCTION = "run"

        def run(self, value: int) -> dict:
            calls.append("Stats")
            return {"ui": {"stats": [{"seen": value}]}, "result": (value + 1,)}

    class Boom:
        @classmethod
        def INPUT_TYPES(cls) -> dict:
            return {"required": {"value": ("INT", {})}}

        RETURN_TYPES = ("INT",)
        FUNCTION = "explode"

        def explode(self, value: int) -> tuple[int]:
            calls.append("Boom")
            raise ValueError(f"cannot handle {value}")

    class Odd:
        """Custom validation: the value must be odd."""

        @classmethod
        def INPUT_TYPES(cls) -> dict:
            return {"required": {"value": ("INT", {"min": 0, "max": 10})}}

        RETURN_TYPES = ("INT",)
        FUNCTION = "run"

        @classmethod
        def VALIDATE_INPUTS(cls, value: int) -> bool | str:
            if value == 99:
                raise RuntimeError("validator crashed")
            return True if value % 2 else f"value must be odd, got {value}"

        def run(self, value: int) -> tuple[int]:
            calls.append("Odd")
            return (value,)

    class AnyType:
        """Accepts any linked type and checks it itself through input_types."""

        @classmethod
        def INPUT_TYPES(cls) -> dict:
            return {"required": {"thing": ("NUMBERISH", {})}}

        RETURN_TYPES = ("INT",)
        FUNCTION = "run"

        @classmethod
        def VALIDATE_INPUTS(cls, input_types: dict) -> bool | str:
            return (
                True
                if input_types.get("thing") in ("INT", "FLOAT")
                else f"thing must be INT or FLOAT, got {input_types.get('thing')}"
            )

        def run(self, thing: Any) -> tuple[int]:
            calls.append("AnyType")
            return (int(thing),)

    class Clock:
        """IS_CHANGED returns `token`; NaN means always re-run."""

        token: Any = "a"

        @classmethod
        def INPUT_TYPES(cls) -> dict:
            return {"required": {"value": ("INT", {})}}

        RETURN_TYPES = ("INT",)
        FUNCTION = "run"

        @classmethod
        def IS_CHANGED(cls, value: int) -> Any:
            return Clock.token

        def run(self, value: int) -> tuple[int]:
            calls.append("Clock")
            return (value,)

    class WhoAmI:
        @classmethod
        def INPUT_TYPES(cls) -> dict:
            return {"required": {}, "hidden": {"unique_id": "UNIQUE_ID", "prompt": "PROMPT"}}

        RETURN_TYPES = ()
        FUNCTION = "run"
        OUTPUT_NODE = True

        def run(self, unique_id: str, prompt: dict) -> dict:
            calls.append("WhoAmI")
            return {"ui": {"id": [unique_id], "nodes": [len(prompt)]}}

    for cls in (Number, Add, Settings, Show, ShowInt, Steps, Stats, Boom, Odd, AnyType, Clock, WhoAmI):
        nodes.classes[cls.__name__] = cls
    return nodes


class RecordingHooks(ExecutionHooks):
    """Records every hook call as a tuple."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def on_start(self, prompt_id: str) -> None:
        self.events.append(("start", prompt_id))

    def on_cached(self, prompt_id: str, node_ids: list[str]) -> None:
        self.events.append(("cached", list(node_ids)))

    def on_executing(self, prompt_id: str, node_id: str, class_type: str) -> None:
        self.events.append(("executing", node_id, class_type))

    def on_progress(self, prompt_id: str, node_id: str, value: int, total: int) -> None:
        self.events.append(("progress", node_id, value, total))

    def on_executed(self, prompt_id: str, node_id: str, ui: dict) -> None:
        self.events.append(("executed", node_id, ui))

    def kinds(self) -> list[str]:
        return [e[0] for e in self.events]


@pytest.fixture
def fake() -> FakeNodes:
    nodes = build_fake_nodes()
    host.clear_interrupt()
    yield nodes
    host.clear_interrupt()
    host.set_progress_hook(None)


@pytest.fixture
def hooks() -> RecordingHooks:
    return RecordingHooks()

"""Running a validated prompt in-process, reporting through hooks as ComfyUI reports over its websocket.

Hook order per prompt (as ComfyUI): on_start; on_cached (possibly empty); then,
in dependency order, each node served from cache re-sends on_executed when it
has a ui, and each node that runs gets on_executing, its progress ticks and
on_executed when it returns a ui.

Not thread-safe: one Executor runs one prompt at a time (as ComfyUI's worker).
"""

from __future__ import annotations

import gc

import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from comfy_nodes import host

from .cache import CacheEntry, OutputCache, holds_objects, node_keys
from .errors import ExecutionFailed, ExecutionInterrupted
from .graph import InputSpec, declared_inputs, is_link, return_types, topological_order, upstream
from .validate import ValidatedPrompt


class ExecutionHooks:
    """Callbacks during a run; override the ones you need."""

    def on_start(self, prompt_id: str) -> None:
        pass

    def on_cached(self, prompt_id: str, node_ids: list[str]) -> None:
        pass

    def on_executing(self, prompt_id: str, node_id: str, class_type: str) -> None:
        pass

    def on_progress(self, prompt_id: str, node_id: str, value: int, total: int) -> None:
        pass

    def on_executed(self, prompt_id: str, node_id: str, ui: dict[str, Any]) -> None:
        pass


@dataclass
class ExecutionResult:
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # node_id -> ui (ComfyUI history "outputs")
    cached: list[str] = field(default_factory=list)  # served from the cache
    executed: list[str] = field(default_factory=list)  # actually run, in order
    timings: dict[str, float] = field(default_factory=dict)  # node_id -> seconds, for nodes that ran


class Executor:
    """Runs validated prompts with `node_classes`, caching node outputs between prompts."""

    def __init__(self, node_classes: Mapping[str, type], cache: bool = True, cache_lru: int = 0) -> None:
        self.node_classes = node_classes
        self.cache_enabled = cache
        self.cache = OutputCache(cache_lru)

    def execute(
        self,
        validated: ValidatedPrompt,
        prompt_id: str,
        hooks: ExecutionHooks | None = None,
        *,
        extra_data: Mapping[str, Any] | None = None,
        clear_interrupt: bool = True,
    ) -> ExecutionResult:
        """Run the nodes the validated outputs need; raises ExecutionFailed / ExecutionInterrupted.

        A new prompt starts with a clean interrupt flag, as in ComfyUI. A caller that clears
        it itself when it takes the prompt off its queue passes `clear_interrupt=False`."""
        hooks = hooks or ExecutionHooks()
        if clear_interrupt:
            host.clear_interrupt()
        if not self.cache_enabled:
            self.cache.clear()
        prompt = validated.prompt
        order = topological_order(prompt, upstream(prompt, validated.outputs))
        # INPUT_TYPES may scan folders (models, input images): read each class's once per run.
        specs = {ct: declared_inputs(self.node_classes[ct]) for ct in {prompt[n]["class_type"] for n in order}}
        keys = node_keys(prompt, order, self.node_classes, specs)
        run = _Run(self, prompt, prompt_id, hooks, dict(extra_data or {}), specs)
        # Drop what this prompt does not reuse *before* running it: switching model files
        # must never hold the old transformer and the new one at once.
        # A full collection costs ~0.1-0.2 s with torch loaded: only when objects were dropped.
        if holds_objects(self.cache.prune({k for k in keys.values() if k is not None})):
            gc.collect()  # models often sit in reference cycles (hooks, modules)
        hooks.on_start(prompt_id)
        cached = [node_id for node_id in order if keys[node_id] in self.cache]
        hooks.on_cached(prompt_id, cached)
        try:
            for node_id in order:
                entry = self.cache.get(keys[node_id])
                if entry is not None:
                    run.reuse(node_id, entry)
                else:
                    self.cache.put(keys[node_id], run.run(node_id))
        finally:
            host.set_progress_hook(None)
            self.cache.prune({k for k in keys.values() if k is not None})
            if not self.cache_enabled:
                self.cache.clear()
        return run.result


class _Run:
    """The state of one execution: produced values, finished nodes, the result so far."""

    def __init__(
        self,
        executor: Executor,
        prompt: dict[str, Any],
        prompt_id: str,
        hooks: ExecutionHooks,
        extra_data: dict[str, Any],
        specs: Mapping[str, Mapping[str, InputSpec]],
    ) -> None:
        self.classes = executor.node_classes
        self.specs = specs
        self.prompt = prompt
        self.prompt_id = prompt_id
        self.hooks = hooks
        self.extra_data = extra_data
        self.values: dict[str, tuple[Any, ...]] = {}
        self.finished: list[str] = []  # cached and run, as ComfyUI's "executed"
        self.result = ExecutionResult()

    def reuse(self, node_id: str, entry: CacheEntry) -> None:
        self.values[node_id] = entry.outputs
        self.finished.append(node_id)
        if node_id not in self.result.cached:
            self.result.cached.append(node_id)
        if entry.ui is not None:
            self.result.outputs[node_id] = entry.ui
            self.hooks.on_executed(self.prompt_id, node_id, entry.ui)

    def run(self, node_id: str) -> CacheEntry:
        node = self.prompt[node_id]
        class_type = node["class_type"]
        cls = self.classes[class_type]
        kwargs: dict[str, Any] = {}
        try:
            host.throw_if_interrupted()
            self.hooks.on_executing(self.prompt_id, node_id, class_type)
            kwargs = self._arguments(node_id, node)
            host.set_progress_hook(lambda value, total, _preview: self.hooks.on_progress(self.prompt_id, node_id, value, total))
            started = time.perf_counter()
            try:
                returned = getattr(cls(), cls.FUNCTION)(**kwargs)
            finally:
                host.set_progress_hook(None)
            elapsed = time.perf_counter() - started
            entry = _entry(cls, returned)
        except host.interrupt_exceptions() as exc:
            raise ExecutionInterrupted(node_id=node_id, node_type=class_type, executed=list(self.finished)) from exc
        except Exception as exc:
            raise ExecutionFailed(
                node_id=node_id,
                node_type=class_type,
                exception=exc,
                traceback=traceback.format_tb(exc.__traceback__),
                executed=list(self.finished),
                current_inputs={name: _summary(value) for name, value in kwargs.items()},
            ) from exc
        self.values[node_id] = entry.outputs
        self.finished.append(node_id)
        self.result.executed.append(node_id)
        self.result.timings[node_id] = elapsed
        if entry.ui is not None:
            self.result.outputs[node_id] = entry.ui
            self.hooks.on_executed(self.prompt_id, node_id, entry.ui)
        return entry

    def _arguments(self, node_id: str, node: dict[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for name, spec in self.specs[node["class_type"]].items():
            if spec.category == "hidden":
                hidden = self._hidden(node_id, spec.type)
                if hidden is not _MISSING:
                    kwargs[name] = hidden
                continue
            if name not in node["inputs"]:
                continue
            value = node["inputs"][name]
            if is_link(value):
                source_id, slot = str(value[0]), value[1]
                produced = self.values[source_id]
                if slot >= len(produced):
                    source_class = self.prompt[source_id]["class_type"]
                    raise TypeError(
                        f"Input '{name}' links to output {slot} of node {source_id} ({source_class}), "
                        f"but that node returned only {len(produced)} value(s)."
                    )
                kwargs[name] = produced[slot]
            else:
                kwargs[name] = value
        return kwargs

    def _hidden(self, node_id: str, kind: Any) -> Any:
        if kind == "UNIQUE_ID":
            return node_id
        if kind == "PROMPT":
            return self.prompt
        if kind == "EXTRA_PNGINFO":
            return self.extra_data.get("extra_pnginfo")
        return _MISSING


_MISSING = object()


def _entry(cls: type, returned: Any) -> CacheEntry:
    """Split a node's return value: a tuple of outputs, or {"ui": ..., "result": (...)}."""
    ui = None
    result = returned
    if isinstance(returned, dict):
        ui = returned.get("ui")
        result = returned.get("result", ())
    if result is None:
        result = ()
    if not isinstance(result, (tuple, list)):
        raise TypeError(f"{cls.__name__}.{cls.FUNCTION} returned {type(result).__name__}; a node must return a tuple of outputs.")
    declared = return_types(cls)
    if result and len(result) != len(declared):
        raise TypeError(
            f"{cls.__name__}.{cls.FUNCTION} returned {len(result)} value(s) but declares {len(declared)} output(s) {declared}."
        )
    if ui is not None and not isinstance(ui, dict):
        raise TypeError(f"{cls.__name__}.{cls.FUNCTION} returned a 'ui' that is not a dict.")
    return CacheEntry(tuple(result), ui)


def _summary(value: Any) -> Any:
    """A short, JSON-friendly description of an input value for error reports."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value if len(value) <= 200 else value[:200] + "..."
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"{type(value).__name__}(shape={list(shape)}, dtype={getattr(value, 'dtype', '?')})"
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."

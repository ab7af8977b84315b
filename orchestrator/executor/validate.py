"""Checking an API-format prompt before running it, as ComfyUI's POST /prompt does.

Only nodes that some output node needs are checked. When some outputs fail and
others pass, the prompt is accepted without the failed ones and `node_errors`
says why; when all fail, PromptValidationError carries ComfyUI's 400 body.
Messages name the node, its class and the input, and say what is allowed.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import values
from .errors import PromptValidationError, qualified_type_name
from .graph import (
    InputSpec,
    accepted_parameters,
    declared_inputs,
    find_cycles,
    is_link,
    is_output_node,
    link_sources,
    node_sort_key,
    return_types,
    upstream,
    well_formed_link,
)


@dataclass
class ValidatedPrompt:
    """A prompt that passed validation, with literals converted and links normalised."""

    prompt: dict[str, Any]
    outputs: list[str]  # output node ids that passed, in id order
    node_errors: dict[str, Any] = field(default_factory=dict)  # why other outputs were dropped


def validate_prompt(prompt: Any, node_classes: Mapping[str, type], *, targets: Collection[str] | None = None) -> ValidatedPrompt:
    """Validate `prompt` against `node_classes`; `targets` limits which output nodes run."""
    work = _normalised(prompt, node_classes)
    wanted = None if targets is None else {str(t) for t in targets}
    outputs = sorted(
        (
            nid
            for nid, node in work.items()
            if is_output_node(node_classes[node["class_type"]]) and (wanted is None or nid in wanted)
        ),
        key=node_sort_key,
    )
    if not outputs:
        raise PromptValidationError(
            _top_error(
                "prompt_no_outputs",
                "Prompt has no outputs",
                "No node in the prompt is an output node (such as a save node); add one so there is something to run.",
            )
        )
    checker = _Checker(work, node_classes, upstream(work, outputs))
    passed: list[str] = []
    node_errors: dict[str, Any] = {}
    for output in outputs:
        if checker.check(output):
            passed.append(output)
            continue
        for node_id in sorted(upstream(work, [output]), key=node_sort_key):
            if checker.errors.get(node_id):
                entry = node_errors.setdefault(
                    node_id,
                    {"errors": checker.errors[node_id], "dependent_outputs": [], "class_type": work[node_id]["class_type"]},
                )
                entry["dependent_outputs"].append(output)
    if not passed:
        lines = [e["message"] for nid in sorted(node_errors, key=node_sort_key) for e in node_errors[nid]["errors"]]
        raise PromptValidationError(
            _top_error("prompt_outputs_failed_validation", "Prompt outputs failed validation", "\n".join(lines)), node_errors
        )
    return ValidatedPrompt(work, passed, node_errors)


def _top_error(type_: str, message: str, details: str) -> dict[str, Any]:
    return {"type": type_, "message": message, "details": details, "extra_info": {}}


def _normalised(prompt: Any, node_classes: Mapping[str, type]) -> dict[str, Any]:
    """A deep copy with string ids and [str, int] links; rejects malformed nodes and unknown classes."""
    if not isinstance(prompt, dict):
        raise PromptValidationError(
            _top_error(
                "invalid_prompt", "The prompt must be a JSON object mapping node ids to nodes.", f"Got {type(prompt).__name__}."
            )
        )
    work: dict[str, Any] = {}
    for raw_id, node in prompt.items():
        node_id = str(raw_id)
        where = f"Node ID '#{node_id}'"
        if not isinstance(node, dict):
            raise PromptValidationError(
                _top_error(
                    "invalid_prompt", f"Cannot execute because node {node_id} is not an object with class_type and inputs.", where
                )
            )
        if "class_type" not in node:
            raise PromptValidationError(
                _top_error("invalid_prompt", f"Cannot execute because node {node_id} is missing the class_type property.", where)
            )
        class_type = node["class_type"]
        if not isinstance(class_type, str) or class_type not in node_classes:
            raise PromptValidationError(
                _top_error(
                    "invalid_prompt",
                    f"Cannot execute because node {node_id} uses class_type {class_type!r}, which does not exist. "
                    "Install the node pack that provides it or correct the name.",
                    where,
                )
            )
        inputs = node.get("inputs", {})
        if not isinstance(inputs, dict):
            raise PromptValidationError(
                _top_error(
                    "invalid_prompt",
                    f"Cannot execute because the inputs of node {node_id} ({class_type}) are not an object.",
                    where,
                )
            )
        node = copy.deepcopy(node)
        node["inputs"] = {name: [str(v[0]), v[1]] if well_formed_link(v) else v for name, v in node.get("inputs", {}).items()}
        work[node_id] = node
    return work


class _Checker:
    """Validates nodes depth-first from the outputs, remembering each node's verdict."""

    def __init__(self, prompt: dict[str, Any], node_classes: Mapping[str, type], reachable: set[str]) -> None:
        self.prompt = prompt
        self.classes = node_classes
        self.errors: dict[str, list[dict[str, Any]]] = {}
        self.verdicts: dict[str, bool] = {}
        self._specs: dict[str, dict[str, InputSpec]] = {}
        self._cycles = {member: group for group in find_cycles(prompt, reachable) for member in group}

    def check(self, node_id: str) -> bool:
        if node_id in self.verdicts:
            return self.verdicts[node_id]
        self.verdicts[node_id] = False  # provisional, in case of re-entry
        node = self.prompt[node_id]
        ref = f"{node_id} ({node['class_type']})"
        errors: list[dict[str, Any]] = []
        if node_id in self._cycles:
            # Every node of the cycle gets the error, not just the one reached first.
            for member in self._cycles[node_id]:
                self._record(member, [self._cycle_error(member)], False)
            return False
        cls = self.classes[node["class_type"]]
        try:
            specs = self._input_specs(node["class_type"], cls)
        except Exception as exc:  # a broken INPUT_TYPES must not take the server down
            errors.append(_exception_error(ref, "INPUT_TYPES", exc))
            return self._record(node_id, errors, False)

        custom = getattr(cls, "VALIDATE_INPUTS", None)
        custom_params, custom_kwargs = accepted_parameters(custom)
        upstream_ok = True
        received_types: dict[str, Any] = {}
        # Undeclared inputs are never passed to the node (as in ComfyUI); drop them so
        # they cannot pull unvalidated nodes into the run.
        inputs = node["inputs"] = {k: v for k, v in node["inputs"].items() if k in specs and specs[k].category != "hidden"}
        for name, spec in specs.items():
            if spec.category == "hidden":
                continue
            if name not in inputs:
                if spec.category == "required":
                    fix = (
                        f"Give it {_a(_type_text(spec))} value." if spec.is_widget else f"Link it to an output of type {spec.type}."
                    )
                    errors.append(_input_error("required_input_missing", "Required input is missing", ref, name, fix, name))
                continue
            value = inputs[name]
            if is_link(value):
                error, linked_ok = self._check_link(ref, name, spec, value, "input_types" in custom_params, received_types)
                if error is not None:
                    errors.append(error)
                upstream_ok = upstream_ok and linked_ok
                continue
            error = self._check_literal(ref, name, spec, inputs, skip_range=name in custom_params and not custom_kwargs)
            if error is not None:
                errors.append(error)

        if custom is not None and not errors and (custom_params or custom_kwargs):
            errors.extend(self._run_custom(ref, custom, custom_params, custom_kwargs, specs, inputs, received_types))
        return self._record(node_id, errors, upstream_ok and not errors)

    def _record(self, node_id: str, errors: list[dict[str, Any]], ok: bool) -> bool:
        if errors:
            self.errors[node_id] = errors
        self.verdicts[node_id] = ok
        return ok

    def _cycle_error(self, node_id: str) -> dict[str, Any]:
        group = self._cycles[node_id]
        path = " -> ".join(self._cycle_path(node_id, set(group)))
        ref = f"{node_id} ({self.prompt[node_id]['class_type']})"
        message = f"Dependency cycle: node {ref} depends on its own output through {path}. Remove one of the links."
        return _error("dependency_cycle", message, path, {"cycle": group})

    def _cycle_path(self, node_id: str, group: set[str]) -> list[str]:
        """node_id, the nodes it depends on in turn, and node_id again (shortest such loop)."""
        previous: dict[str, str] = {}
        frontier = [node_id]
        while frontier:
            following: list[str] = []
            for current in frontier:
                for source in sorted(set(link_sources(self.prompt[current])) & group, key=node_sort_key):
                    if source == node_id:
                        path = [current]
                        while path[-1] != node_id:
                            path.append(previous[path[-1]])
                        return path[::-1] + [node_id]
                    if source not in previous:
                        previous[source] = current
                        following.append(source)
            frontier = following
        return sorted(group, key=node_sort_key)

    def _input_specs(self, class_type: str, cls: type) -> dict[str, InputSpec]:
        # INPUT_TYPES may scan model folders, so call it once per class.
        if class_type not in self._specs:
            self._specs[class_type] = declared_inputs(cls)
        return self._specs[class_type]

    def _check_link(
        self, ref: str, name: str, spec: InputSpec, value: list[Any], custom_types: bool, received: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, bool]:
        """(error or None, whether the linked node validated)."""
        extra = {"input_config": values.input_config(spec), "received_value": value}
        if not well_formed_link(value):
            fix = 'A link must be [node_id, output_index]; wrap a literal list as {"__value__": [...]}.'
            return _input_error(
                "bad_linked_input",
                "Bad linked input, must be a length-2 list of [node_id, slot_index]",
                ref,
                name,
                fix,
                name,
                extra,
            ), True
        source_id, slot = value
        if source_id not in self.prompt:
            fix = f"It links to node {source_id}, which is not in the prompt."
            return _input_error(
                "bad_linked_input", "Bad linked input, linked node does not exist", ref, name, fix, name, extra
            ), True
        source_class = self.prompt[source_id]["class_type"]
        outputs = return_types(self.classes[source_class])
        if not 0 <= slot < len(outputs):
            fix = (
                f"Node {source_id} ({source_class}) has {len(outputs)} output(s); "
                f"use an output index from 0 to {len(outputs) - 1}."
            )
            return _input_error(
                "bad_linked_input", f"Bad linked input, output index {slot} out of range", ref, name, fix, name, extra
            ), True
        received_type = outputs[slot]
        received[name] = received_type
        if not custom_types and not values.type_matches(received_type, spec.type):
            fix = (
                f"It expects {_type_text(spec)} but output {slot} of node {source_id} ({source_class}) is {received_type}. "
                f"Link an output of type {_type_text(spec)}."
            )
            details = f"{name}, received_type({received_type}) mismatch input_type({_type_text(spec)})"
            extra = {"input_config": values.input_config(spec), "received_type": received_type, "linked_node": value}
            return _input_error(
                "return_type_mismatch", "Return type mismatch between linked nodes", ref, name, fix, details, extra
            ), True
        return None, self.check(source_id)

    def _check_literal(
        self, ref: str, name: str, spec: InputSpec, inputs: dict[str, Any], *, skip_range: bool
    ) -> dict[str, Any] | None:
        raw = values.unwrap(inputs[name])
        if not spec.is_widget and spec.type != "*":
            fix = f"Link it to an output of type {spec.type}; a typed-in value cannot be used here."
            extra = {"input_config": values.input_config(spec), "received_value": raw}
            return _input_error("invalid_input_type", f"Input expects a link, got the value {raw!r}", ref, name, fix, name, extra)
        try:
            value = values.convert(spec, raw)
        except (TypeError, ValueError, OverflowError) as exc:
            fix = f"Give {_a(_type_text(spec))} value. {values.bounds_text(spec.options)}".strip()
            extra = {"input_config": values.input_config(spec), "received_value": raw, "exception_message": str(exc)}
            short = f"Failed to convert an input value to a {_type_text(spec)} value"
            return _input_error("invalid_input_type", short, ref, name, fix, f"{name}, {raw!r}, {exc}", extra)
        inputs[name] = value
        if skip_range:  # the node's VALIDATE_INPUTS takes charge of this input
            return None
        extra = {"input_config": values.input_config(spec), "received_value": value}
        low, high = spec.options.get("min"), spec.options.get("max")
        if not spec.is_combo and low is not None and _below(value, low):
            short = f"Value {value} smaller than min of {low}"
            return _input_error("value_smaller_than_min", short, ref, name, values.bounds_text(spec.options), name, extra)
        if not spec.is_combo and high is not None and _below(high, value):
            short = f"Value {value} bigger than max of {high}"
            return _input_error("value_bigger_than_max", short, ref, name, values.bounds_text(spec.options), name, extra)
        if spec.is_combo and not _in_choices(value, spec.type):
            listed = values.choices_text(spec.type)
            fix = f"Allowed values: {listed}."
            return _input_error(
                "value_not_in_list", "Value not in list", ref, name, fix, f"{name}: {value!r} not in {listed}", extra
            )
        return None

    def _run_custom(
        self,
        ref: str,
        custom: Any,
        params: set[str],
        kwargs: bool,
        specs: dict[str, InputSpec],
        inputs: dict[str, Any],
        received_types: dict[str, Any],
    ) -> list[dict[str, Any]]:
        """Call the class's VALIDATE_INPUTS with the inputs it declares (linked ones as None, as ComfyUI)."""
        arguments = {
            name: (None if is_link(value) else value)
            for name, value in inputs.items()
            if name in specs and (kwargs or name in params)
        }
        if "input_types" in params:
            arguments["input_types"] = received_types
        declared = [n for n in specs if n in params] or [""]
        try:
            result = custom(**arguments)
        except Exception as exc:
            return [_exception_error(ref, "VALIDATE_INPUTS", exc, input_name=declared[0])]
        if result is True:
            return []
        reason = "" if result is False or result is None else str(result)
        names = ", ".join(n for n in declared if n)
        message = f"Custom validation failed for node {ref}" + (f": {reason}" if reason else ".")
        details = f"{names} - {reason}" if names and reason else (reason or names)
        return [_error("custom_validation_failed", message, details, {"input_name": declared[0]})]


def _below(a: Any, b: Any) -> bool:
    try:
        return a < b
    except TypeError:
        return False


def _in_choices(value: Any, choices: list[Any] | tuple[Any, ...]) -> bool:
    try:
        return value in choices
    except TypeError:
        return False


def _type_text(spec: InputSpec) -> str:
    return "COMBO" if spec.is_combo else str(spec.type)


def _a(word: str) -> str:
    """The article for a type name read aloud: an INT, a FLOAT, a STRING."""
    return f"{'an' if word[:1].upper() in 'AEIOU' else 'a'} {word}"


def _error(type_: str, message: str, details: str, extra_info: dict[str, Any]) -> dict[str, Any]:
    return {"type": type_, "message": message, "details": details, "extra_info": extra_info}


def _input_error(
    type_: str, short: str, ref: str, name: str, fix: str, details: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    message = f"{short}: {name} on node {ref}." + (f" {fix}" if fix else "")
    return _error(type_, message, details, {"input_name": name, **(extra or {})})


def _exception_error(ref: str, where: str, exc: Exception, input_name: str = "") -> dict[str, Any]:
    kind = qualified_type_name(exc)
    message = f"Exception during validation: {where} of node {ref} raised {kind}: {exc}"
    extra = {"input_name": input_name, "exception_type": kind, "exception_message": str(exc)}
    return _error("exception_during_validation", message, f"{where}: {exc}", extra)

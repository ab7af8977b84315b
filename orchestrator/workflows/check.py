"""Checking a workflow against the node classes: graph, manifest and UI file agree.

Files the user supplies (the start image, model files) may be absent where the
check runs; errors about them are reported as notes rather than failures.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.executor import PromptValidationError, validate_prompt
from orchestrator.executor.graph import InputSpec, declared_inputs

from .errors import WorkflowError
from .manifest import Parameter
from .registry import Workflow
from .ui_format import ui_to_api

_FILE_ERROR_TYPES = ("value_not_in_list", "custom_validation_failed")


@dataclass
class CheckReport:
    name: str
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def check_prompt(
    prompt: Any, node_classes: Mapping[str, type], *, name: str = "prompt", file_inputs: Collection[tuple[str, str]] = ()
) -> CheckReport:
    """Validate an API prompt; errors on `file_inputs` ((node_id, input) pairs) become notes."""
    report = CheckReport(name)
    try:
        node_errors = validate_prompt(prompt, node_classes).node_errors
    except PromptValidationError as exc:
        if not exc.node_errors:
            report.errors.append(exc.error["message"])
            return report
        node_errors = exc.node_errors
    for node_id, entry in node_errors.items():
        for error in entry["errors"]:
            input_name = error.get("extra_info", {}).get("input_name")
            if (node_id, input_name) in set(file_inputs) and error["type"] in _FILE_ERROR_TYPES:
                value = prompt[node_id]["inputs"].get(input_name)
                report.notes.append(
                    f"node {node_id} ({entry['class_type']}) {input_name}: {value!r} is not installed here "
                    "(a file the user supplies; fine if it exists where the workflow runs)"
                )
            else:
                report.errors.append(error["message"])
    return report


def check_workflow(workflow: Workflow, node_classes: Mapping[str, type]) -> CheckReport:
    """Graph validity, manifest bindings/defaults/bounds against the nodes, and UI == API."""
    report = CheckReport(workflow.ref)
    try:
        api, manifest = workflow.api, workflow.manifest
    except WorkflowError as exc:
        report.errors.append(str(exc))
        return report
    file_inputs = [bind for p in manifest.parameters if p.type == "image" or p.model_kind for bind in p.binds]
    graph = check_prompt(api, node_classes, name=workflow.ref, file_inputs=file_inputs)
    report.errors += graph.errors
    report.notes += graph.notes
    for parameter in manifest.parameters:
        for node_id, input_name in parameter.binds:
            report.errors += [f"{workflow.ref}: {e}" for e in check_binding(parameter, node_id, input_name, api, node_classes)]
    if workflow.ui is not None:
        try:
            if ui_to_api(workflow.ui, node_classes) != api:
                report.errors.append(f"{workflow.ref}: ui.json and api.json describe different graphs.")
        except WorkflowError as exc:
            report.errors.append(f"{workflow.ref}: ui.json cannot be converted: {exc}")
    return report


def check_binding(
    parameter: Parameter, node_id: str, input_name: str, api: Mapping[str, Any], node_classes: Mapping[str, type]
) -> list[str]:
    """Problems with one parameter binding: target, default, type and bounds versus the node's input."""
    where = f"parameter '{parameter.name}' -> node {node_id} input '{input_name}'"
    node = api.get(node_id)
    if node is None:
        return [f"{where}: the node is not in the graph."]
    cls = node_classes.get(node.get("class_type"))
    if cls is None:
        return [f"{where}: class {node.get('class_type')!r} is unknown."]
    spec = declared_inputs(cls).get(input_name)
    if spec is None or spec.category == "hidden":
        return [f"{where}: {node['class_type']} has no such input."]
    problems = []
    if node.get("inputs", {}).get(input_name) != parameter.default:
        problems.append(
            f"{where}: default {parameter.default!r} differs from the graph's {node.get('inputs', {}).get(input_name)!r}."
        )
    try:
        parameter.convert(parameter.default)
    except WorkflowError as exc:
        problems.append(f"{where}: the default is not allowed by the manifest itself: {exc}")
    problems += [f"{where}: {p}" for p in _compare_with_node(parameter, spec)]
    return problems


def _compare_with_node(parameter: Parameter, spec: InputSpec) -> list[str]:
    expected_types = {"int": ("INT",), "float": ("FLOAT",), "bool": ("BOOLEAN",), "string": ("STRING",)}
    if parameter.type == "enum" or parameter.type == "image" or (parameter.type == "string" and spec.is_combo):
        if not spec.is_combo:
            return [f"a {parameter.type} parameter needs a combo input, but the node's input is {spec.type}."]
        if parameter.type == "enum":
            extra = [c for c in parameter.choices or () if c not in spec.type]
            return [f"choices {extra} are not accepted by the node (it accepts {list(spec.type)})."] if extra else []
        return []  # file lists depend on what is installed
    if spec.type not in expected_types.get(parameter.type, ()):
        return [f"a {parameter.type} parameter cannot feed a {spec.type} input."]
    problems = []
    low, high = spec.options.get("min"), spec.options.get("max")
    if low is not None and (parameter.min is None or parameter.min < low):
        problems.append(f"min {parameter.min} is below the node's min {low}.")
    if high is not None and (parameter.max is None or parameter.max > high):
        problems.append(f"max {parameter.max} is above the node's max {high}.")
    return problems

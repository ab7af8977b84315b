"""Filling a workflow's parameters into its API graph."""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import WorkflowFormatError, WorkflowParameterError
from .registry import Workflow


def bind(workflow: Workflow, params: Mapping[str, Any], image: str | None = None) -> dict[str, Any]:
    """A ready API-format prompt: the workflow's graph with `params` (and the start image) filled in.

    Unset parameters keep their defaults. Values may be strings (from `--set name=value`);
    they are converted by the manifest's type and checked against its bounds.
    """
    values = resolve_parameters(workflow, params, image)
    prompt = copy.deepcopy(workflow.api)
    for parameter in workflow.manifest.parameters:
        for node_id, input_name in parameter.binds:
            node = prompt.get(node_id)
            if node is None:
                raise WorkflowFormatError(
                    f"{workflow.ref}: parameter '{parameter.name}' binds to node {node_id}, which is not in the graph"
                )
            node.setdefault("inputs", {})[input_name] = values[parameter.name]
    return prompt


def resolve_parameters(workflow: Workflow, params: Mapping[str, Any], image: str | None = None) -> dict[str, Any]:
    """Every parameter's value, in manifest order: the given ones converted and checked, the rest defaults."""
    manifest = workflow.manifest
    _reject_unknown(workflow, params)
    values = dict(params)
    image_params = [p.name for p in manifest.parameters if p.type == "image"]
    if image is not None:
        if not image_params:
            raise WorkflowParameterError(f"Workflow {workflow.ref} takes no image.")
        if image_params[0] in values and values[image_params[0]] != image:
            raise WorkflowParameterError(f"The image was given twice ('{image}' and '{values[image_params[0]]}'); give it once.")
        values[image_params[0]] = image
    return {p.name: p.convert(values[p.name]) if p.name in values else p.default for p in manifest.parameters}


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """' (did you mean 'steps'?)' for a near miss of one of `known`, else ''."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _reject_unknown(workflow: Workflow, params: Mapping[str, Any]) -> None:
    known = workflow.manifest.names
    unknown = [name for name in params if name not in known]
    if not unknown:
        return
    hints = [f"'{name}'{did_you_mean(name, known)}" for name in unknown]
    raise WorkflowParameterError(
        f"Unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(hints)} for workflow {workflow.ref}. "
        f"Known parameters: {', '.join(known)}."
    )

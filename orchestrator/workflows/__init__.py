"""Versioned, locked workflows and their parameters.

list_workflows() -> list[Workflow]
get_workflow("i2v_480p") / get_workflow("i2v_480p@1") -> Workflow (.api, .ui, .manifest, .content_hash)
bind(workflow, {"steps": "30"}, image="start.png") -> API-format prompt
verify_lock() -> list[str] problems
"""

from .binding import bind, resolve_parameters
from .errors import WorkflowError, WorkflowFormatError, WorkflowNotFoundError, WorkflowParameterError
from .lock import update_lock, verify_lock
from .manifest import Manifest, Parameter
from .registry import Workflow, get_workflow, list_workflows, parse_ref, workflows_dir
from .ui_format import ui_to_api

__all__ = [
    "Manifest",
    "Parameter",
    "Workflow",
    "WorkflowError",
    "WorkflowFormatError",
    "WorkflowNotFoundError",
    "WorkflowParameterError",
    "bind",
    "get_workflow",
    "list_workflows",
    "parse_ref",
    "resolve_parameters",
    "ui_to_api",
    "update_lock",
    "verify_lock",
    "workflows_dir",
]

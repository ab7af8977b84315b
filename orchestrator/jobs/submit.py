"""From a request (workflow, form fields, image) to a job record: parameters checked, models chosen, cache looked up.

Only a released workflow's own parameters reach ComfyUI; server-side ones (model files,
the output prefix, the input image) are set here, never by the client.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from comfy_nodes.models.demo_files import FILES as DEMO_FILES
from comfy_nodes.models.demo_files import is_complete as demo_complete
from comfy_nodes.pipeline.defaults import RESOLUTION_AREAS, VAE_STRIDE_T
from orchestrator.core.errors import InvalidParameter, UnknownWorkflow
from orchestrator.deploy.sources import installed_alternative
from orchestrator.workflows import (
    Parameter,
    Workflow,
    WorkflowNotFoundError,
    WorkflowParameterError,
    get_workflow,
    resolve_parameters,
)
from orchestrator.workflows.demo_size import demo_size
from orchestrator.workflows.manifest import RANDOM_SEED

DEFAULT_WORKFLOW = "i2v_480p"
SERVER_SIDE = {"filename_prefix"}
TOKEN_PIXELS = 16 * 16  # one latent token: a 2x2 patch of the VAE's 8x8 pixels
BASIC = {"prompt", "negative_prompt", "seed", "num_frames", "resolution"}


def client_parameters(workflow: Workflow) -> list[Parameter]:
    """The parameters a client may set (shown by /api/workflows)."""
    return [p for p in workflow.manifest.parameters
            if p.type != "image" and p.model_kind is None and p.name not in SERVER_SIDE]


def is_advanced(parameter: Parameter) -> bool:
    return parameter.name not in BASIC


def find_workflow(ref: str | None) -> Workflow:
    try:
        return get_workflow(ref or DEFAULT_WORKFLOW)
    except WorkflowNotFoundError as exc:
        raise UnknownWorkflow(str(exc), "workflow") from exc


def model_files(workflow: Workflow, models_dir: Path) -> dict[str, str]:
    """Where a workflow's default model file is absent: the same file at another precision (the
    fp8 transformer for the bf16 one), else the demo model's when that is present."""
    use_demo = demo_complete(models_dir)
    chosen = {}
    for p in workflow.manifest.parameters:
        if p.model_kind is None:
            continue
        found = installed_alternative(models_dir, p.model_kind, str(p.default))
        if found is not None and found != p.default:
            chosen[p.name] = found
        elif found is None and use_demo and p.model_kind in DEMO_FILES:
            chosen[p.name] = DEMO_FILES[p.model_kind]
    return chosen


def demo_stands_in(workflow: Workflow, models_dir: Path, chosen: dict[str, str] | None = None) -> bool:
    """Whether the demo model runs this workflow here (its own transformer file is absent); `chosen`:
    model_files' answer, when the caller already has it."""
    chosen = model_files(workflow, models_dir) if chosen is None else chosen
    return chosen.get(_transformer(workflow)) == DEMO_FILES["diffusion_models"]


def defaults(workflow: Workflow, models_dir: Path) -> tuple[dict[str, Any], bool]:
    """The defaults this server uses for the client's parameters it was not given, and whether the demo
    model stands in: the workflow's own, or the demo's small clip (the workflow's size takes minutes on it)."""
    own = {p.name: p.default for p in client_parameters(workflow)}
    if not demo_stands_in(workflow, models_dir):
        return own, False
    return {**own, **{k: v for k, v in demo_size(workflow).items() if k in own}}, True


def _transformer(workflow: Workflow) -> str | None:
    return next((p.name for p in workflow.manifest.parameters if p.model_kind == "diffusion_models"), None)


def resolve(workflow: Workflow, fields: dict[str, str], models_dir: Path) -> tuple[dict[str, Any], bool]:
    """All parameter values (checked) and whether the seed was fixed by the client (for the result cache)."""
    allowed = {p.name for p in client_parameters(workflow)}
    for name in fields:
        if name not in allowed:
            if name in workflow.manifest.names:
                raise InvalidParameter(f"'{name}' is set by the server and cannot be given in a request.", name)
            known = ", ".join(sorted(allowed))
            raise InvalidParameter(f"Unknown parameter '{name}' for workflow {workflow.ref}. Known: {known}.", name)
    by_name = {p.name: p for p in workflow.manifest.parameters}
    for name, value in fields.items():  # one at a time, so the error names its field
        try:
            by_name[name].convert(value)
        except WorkflowParameterError as exc:
            raise InvalidParameter(str(exc), name) from exc
    chosen = model_files(workflow, models_dir)
    demo = demo_size(workflow) if demo_stands_in(workflow, models_dir, chosen) else {}
    values = {**chosen, **{k: v for k, v in demo.items() if k in allowed}, **fields}
    random_seed = str(fields.get("seed", "")).strip() == str(RANDOM_SEED)
    try:
        resolved = resolve_parameters(workflow, values)
    except WorkflowParameterError as exc:
        raise InvalidParameter(str(exc)) from exc
    for p in workflow.manifest.parameters:
        if p.type == "image":
            resolved.pop(p.name, None)
    return resolved, not random_seed


def _tokens_per_latent_frame(parameters: dict[str, Any]) -> int | None:
    resolution = parameters.get("resolution")
    if resolution == "custom":
        width, height = parameters.get("width"), parameters.get("height")
        if not (isinstance(width, int) and isinstance(height, int)):
            return None
        return width * height // TOKEN_PIXELS
    if resolution in RESOLUTION_AREAS:
        return RESOLUTION_AREAS[resolution] // TOKEN_PIXELS  # the image's aspect ratio within this area
    return None


def video_tokens(parameters: dict[str, Any]) -> int | None:
    """The latent tokens of a job's video (the transformer's sequence), or None when its size is not known here."""
    frames, per_frame = parameters.get("num_frames"), _tokens_per_latent_frame(parameters)
    if not isinstance(frames, int) or per_frame is None:
        return None
    return ((frames - 1) // VAE_STRIDE_T + 1) * per_frame


def check_video_size(parameters: dict[str, Any], limit: int) -> None:
    """A job beyond the server's MAX_VIDEO_TOKENS is refused before anything is stored or queued."""
    tokens = video_tokens(parameters)
    if not limit or tokens is None or tokens <= limit:
        return
    per_frame = _tokens_per_latent_frame(parameters) or 1
    most = (limit // per_frame - 1) * VAE_STRIDE_T + 1
    hint = f"at most {most} frames at this size, or a smaller size" if most >= 1 else "a smaller size"
    raise InvalidParameter(
        f"This video would be {tokens:,} latent tokens ({parameters['num_frames']} frames); this server takes at most "
        f"{limit:,} (MAX_VIDEO_TOKENS). Ask for {hint}.", "num_frames")


def cache_key(workflow: Workflow, image_sha256: str, parameters: dict[str, Any]) -> str:
    blob = json.dumps({"workflow": workflow.ref, "hash": workflow.content_hash, "image": image_sha256,
                       "parameters": parameters}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()

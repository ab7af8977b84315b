"""Health, the released workflows and (for administrators) the ComfyUI instances."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from fastapi import APIRouter, Depends
from sqlalchemy import text

from orchestrator.jobs import submit
from orchestrator.users.models import User
from orchestrator.workflows import list_workflows

from .. import schemas
from ..deps import admin_user, current_user, services
from ..services import Services

router = APIRouter(prefix="/api", tags=["system"])


def _version() -> str:
    try:
        return version("wan-i2v")
    except PackageNotFoundError:
        return "0+unknown"


@router.get("/health", response_model=schemas.Health)
def health(svc: Services = Depends(services)) -> schemas.Health:
    with svc.jobs.factory() as s:
        s.execute(text("SELECT 1"))
    up = sum(1 for i in svc.jobs.list_instances() if i.state == "up")
    return schemas.Health(status="ok", version=_version(), database="ok", instances_up=up,
                          executor=svc.settings.executor)  # type: ignore[arg-type]


@router.get("/workflows", response_model=list[schemas.Workflow], responses={401: {"model": schemas.ErrorResponse}})
def workflows(_: User = Depends(current_user), svc: Services = Depends(services)) -> list[schemas.Workflow]:
    found = list_workflows()
    models = Path(svc.settings.WAN_MODELS_DIR)
    newest = {}
    for wf in found:
        newest[wf.name] = max(newest.get(wf.name, 0), wf.version)
    out = []
    for wf in found:
        params = submit.client_parameters(wf)
        defaults, demo = submit.defaults(wf, models)  # what a job that omits a parameter gets here
        fps = defaults.get("fps")
        out.append(schemas.Workflow(
            name=wf.name, version=wf.version, ref=wf.ref, title=wf.manifest.title, description=wf.manifest.description,
            fps=fps, latest=wf.version == newest[wf.name], demo_model=demo,
            parameters=[schemas.WorkflowParameter(
                name=p.name, type=p.type, default=defaults[p.name], min=p.min, max=p.max, step=p.step,  # type: ignore[arg-type]
                choices=list(p.choices) if p.choices is not None else None, description=p.description,
                advanced=submit.is_advanced(p)) for p in params],
        ))
    return out


@router.get("/instances", response_model=list[schemas.Instance], responses={401: {"model": schemas.ErrorResponse},
                                                                           403: {"model": schemas.ErrorResponse}})
def instances(_: User = Depends(admin_user), svc: Services = Depends(services)) -> list[schemas.Instance]:
    active = svc.jobs.instance_jobs()
    out = []
    for inst in svc.jobs.list_instances():
        jobs = active.get(inst.id, [])
        running = next((j.id for j in jobs if j.state == "running"), None)
        out.append(schemas.Instance(id=inst.id, url=inst.url, state=inst.state, queue_depth=len(jobs),  # type: ignore[arg-type]
                                    current_job=running, node_types=len(inst.node_types or []),
                                    last_seen_at=inst.last_seen_at, error=inst.error))
    return out

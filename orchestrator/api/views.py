"""Records as API responses."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from orchestrator.core import security
from orchestrator.jobs.models import Job as JobRecord
from orchestrator.jobs.submit import SERVER_SIDE
from orchestrator.jobs.store import JobStore
from orchestrator.users.models import User as UserRecord

from . import schemas

# Driver errors name the instance's address ("ComfyUI at http://10.0.0.5:8188 ..."); browsers never see it.
_ADDRESS = re.compile(r"\b(?:https?|wss?)://[^\s'\")]+"  # URLs
                      r"|\('[^']*', \d+(?:, \d+, \d+)?\)"  # socket addresses as Python prints them
                      r"|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", re.IGNORECASE)  # bare IPv4[:port]


def public_error(error: str | None) -> str | None:
    """A job's error without the addresses of ComfyUI instances (administrators see those in /api/instances)."""
    return _ADDRESS.sub("the instance", error) if error else error


def user_view(user: UserRecord) -> schemas.User:
    return schemas.User(id=user.id, username=user.username, role=user.role, created_at=user.created_at)  # type: ignore[arg-type]


def job_view(
    job: JobRecord, store: JobStore, username: str, positions: dict[str, int] | None = None,
    signing: tuple[str, str] | None = None,
) -> schemas.Job:
    """`positions`: queue places already read for a page of jobs (one query for the page).
    `signing`: (viewer's user id, secret): the download URLs carry a signature for that viewer, so a
    <video> or <img> element can load them without an Authorization header."""

    sig = security.download_signature(signing[0], job.id, signing[1]) if signing and job.outputs else None

    def link(**query: str) -> str:
        if sig is not None:
            query["sig"] = sig
        return f"/api/download/{job.id}" + (f"?{urlencode(query)}" if query else "")

    outputs = []
    video_url = poster_url = None
    for out in job.outputs or []:
        outputs.append(schemas.Output(kind=out.get("kind", "file"), filename=out["filename"], url=link(file=out["filename"])))
        if out.get("kind") == "video" and video_url is None:
            video_url = link()
    if video_url is not None:
        poster_url = link(file="poster")
    return schemas.Job(
        id=job.id, user=username, state=job.state, progress=job.progress or 0.0, step=job.step, steps=job.steps,  # type: ignore[arg-type]
        node=job.node, queue_position=positions.get(job.id) if positions is not None else store.queue_position(job), instance=job.instance_id, attempt=job.attempt,
        cached=job.cached, created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at,
        error=public_error(job.error) if job.state != "succeeded" else None, workflow=f"{job.workflow}@{job.workflow_version}",
        workflow_hash=job.workflow_hash,
        parameters={k: v for k, v in (job.parameters or {}).items() if k not in SERVER_SIDE}, seed=job.seed, outputs=outputs,
        video_url=video_url, poster_url=poster_url, timings=job.timings,
    )

"""Jobs: submit (multipart), list, status, cancel, events (SSE), download (with Range)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import FileResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials

from orchestrator.core import security
from orchestrator.core.errors import Conflict, InvalidParameter, NotAuthenticated, NotFound, NotReady, TooLarge
from orchestrator.jobs import submit
from orchestrator.jobs.images import store_image
from orchestrator.jobs.models import FINAL
from orchestrator.jobs.models import Job as JobRecord
from orchestrator.users.models import User
from orchestrator.workflows import Workflow
from orchestrator.workflows.binding import did_you_mean

from .. import schemas
from ..deps import bearer, current_user, services
from ..posters import poster_for
from ..services import Services
from ..views import job_view

router = APIRouter(prefix="/api", tags=["jobs"])
ERRORS = {code: {"model": schemas.ErrorResponse} for code in (401, 404)}
SUBMIT_ERRORS = {code: {"model": schemas.ErrorResponse} for code in (401, 413, 422)}
EVENT_POLL_S = 0.25
PING_S = 15.0
STATE_CHECK_S = 2.0  # a quiet stream re-reads the job this often (events carry every change)
CHUNK = 1 << 16
MAX_OFFSET = 1 << 31  # past any real listing; bigger numbers overflow the database's integers


def _owned(svc: Services, user: User, job_id: str) -> JobRecord:
    """The job, if this user may see it; another user's job is 'not found', never 'forbidden'."""
    job = svc.jobs.get_job(job_id)
    if job is None or (job.user_id != user.id and user.role != "admin"):
        raise NotFound(f"No job {job_id} among yours.", "job_id")
    return job


def _name(svc: Services, user: User, job: JobRecord) -> str:
    if job.user_id == user.id:
        return user.username
    owner = svc.users.get(job.user_id)
    return owner.username if owner else "?"


async def _read_limited(upload: UploadFile, limit: int) -> bytes:
    data = bytearray()
    while chunk := await upload.read(CHUNK):
        data += chunk
        if len(data) > limit:
            raise TooLarge(f"The image is over the {limit / 1e6:.1f} MB limit; send a smaller file.", "image")
    return bytes(data)


def _reject_unknown(wf: Workflow, fields: dict[str, str]) -> None:
    """A form field that is no parameter of the workflow, with the near miss as a hint (as `run --set` gives).
    Server-side parameters are left to `submit.resolve`, which says they cannot be given."""
    allowed = [p.name for p in submit.client_parameters(wf)]
    for name in fields:
        if name in wf.manifest.names:
            if name not in allowed:
                return
            continue
        known = ", ".join(sorted(allowed))
        raise InvalidParameter(f"Unknown parameter '{name}'{did_you_mean(name, allowed)} for workflow {wf.ref}. "
                               f"Known: {known}.", name)


@router.post("/generate", status_code=202, response_model=schemas.JobCreated, responses=SUBMIT_ERRORS)
@router.post("/jobs", status_code=202, response_model=schemas.JobCreated, responses=SUBMIT_ERRORS,
             operation_id="create_job")
async def generate(
    request: Request,
    image: UploadFile = File(description="The start image (PNG, JPEG, WebP, BMP, GIF or TIFF)."),
    workflow: str | None = Form(None, description="Workflow name or name@version; default: the latest i2v_480p."),
    prompt: str | None = Form(None, description="What should happen in the video."),
    user: User = Depends(current_user),
    svc: Services = Depends(services),
) -> schemas.JobCreated:
    """Start a job. Every other form field is a parameter of the chosen workflow (see /api/workflows)."""
    s = svc.settings
    form = await request.form()
    fields = {k: str(v) for k, v in form.multi_items() if k not in ("image", "workflow") and isinstance(v, str)}
    wf = submit.find_workflow(workflow)
    _reject_unknown(wf, fields)
    parameters, fixed_seed = submit.resolve(wf, fields, Path(s.WAN_MODELS_DIR))
    submit.check_video_size(parameters, s.MAX_VIDEO_TOKENS)
    data = await _read_limited(image, s.MAX_UPLOAD_BYTES)
    stored = await asyncio.to_thread(store_image, data, Path(s.UPLOADS_DIR), s.MAX_UPLOAD_BYTES,
                                     s.MAX_UPLOAD_PIXELS, s.MIN_IMAGE_SIDE)
    key = submit.cache_key(wf, stored.sha256, parameters) if fixed_seed else None
    if key and s.RESULT_CACHE:
        source = await asyncio.to_thread(svc.jobs.find_cached, key)
        if source is not None and _files_exist(s.VIDEOS_DIR, source):
            job = await asyncio.to_thread(svc.jobs.create_cached_job, user.id, source, parameters, str(stored.path))
            return schemas.JobCreated(job_id=job.id, state="succeeded", cached=True)
    job = await asyncio.to_thread(svc.jobs.create_job, user.id, wf.ref, parameters, str(stored.path),
                                  parameters.get("seed"), stored.sha256, key)
    svc.wake()
    return schemas.JobCreated(job_id=job.id, state="queued", cached=False)


def _files_exist(videos: Path, job: JobRecord) -> bool:
    return bool(job.outputs) and all((Path(videos) / job.id / o["filename"]).is_file() for o in job.outputs or [])


@router.get("/jobs", response_model=schemas.JobPage, responses=ERRORS)
def list_jobs(
    page: int = Query(1, ge=1), page_size: int = Query(20, ge=1, le=100),
    user: User = Depends(current_user), svc: Services = Depends(services),
) -> schemas.JobPage:
    """Your jobs, newest first (administrators see everyone's)."""
    owner = None if user.role == "admin" else user.id
    offset = (page - 1) * page_size
    if offset > MAX_OFFSET:  # an empty page far past the end, with the true total
        (_, total), items = svc.jobs.list_jobs(owner, 0, 0), []
    else:
        items, total = svc.jobs.list_jobs(owner, offset, page_size)
    positions = svc.jobs.queue_positions(items)  # one query for the page, not one per job
    names: dict[str, str] = {}  # an admin's page: each other owner looked up once
    for job in items:
        if job.user_id not in names:
            names[job.user_id] = _name(svc, user, job)
    signing = (user.id, svc.secret)
    return schemas.JobPage(items=[job_view(j, svc.jobs, names[j.user_id], positions, signing) for j in items], total=total,
                           page=page, page_size=page_size)


@router.get("/jobs/{job_id}", response_model=schemas.Job, responses=ERRORS)
@router.get("/status/{job_id}", response_model=schemas.Job, responses=ERRORS, operation_id="job_status")
def get_job(job_id: str, user: User = Depends(current_user), svc: Services = Depends(services)) -> schemas.Job:
    job = _owned(svc, user, job_id)
    return job_view(job, svc.jobs, _name(svc, user, job), signing=(user.id, svc.secret))


@router.post("/jobs/{job_id}/cancel", response_model=schemas.Job, responses={**ERRORS, 409: {"model": schemas.ErrorResponse}})
def cancel_job(job_id: str, user: User = Depends(current_user), svc: Services = Depends(services)) -> schemas.Job:
    """Waiting: cancelled at once. Running: interrupted on its instance, then cancelled."""
    job = _owned(svc, user, job_id)
    if job.state in FINAL:
        raise Conflict(f"The job has already {'been ' if job.state == 'cancelled' else ''}{job.state}.", "job_id")
    svc.jobs.request_cancel(job_id)
    svc.wake()
    job = _owned(svc, user, job_id)
    return job_view(job, svc.jobs, _name(svc, user, job), signing=(user.id, svc.secret))


def _no_files(state: str, job_id: str) -> str:
    """Why a job that has not succeeded has nothing to download, and what to do."""
    if state == "cancelled":
        return "The job was cancelled, so it has no video. Submit it again to make one."
    if state == "failed":
        return f"The job failed, so it has no video. Its error says why (GET /api/jobs/{job_id}); submit it again once fixed."
    return f"The job is {state}; its files are there once it has succeeded."


def _sse(event_id: int, kind: str, payload: str) -> str:
    return f"id: {event_id}\nevent: {kind}\ndata: {payload}\n\n"


@router.get("/jobs/{job_id}/events", responses=ERRORS,
            response_class=StreamingResponse,
            description="Server-sent events: `state` and `progress` with the job as data, then `end`. "
                        "Reconnect with Last-Event-ID to resume. Also accepts ?access_token=.")
async def job_events(
    job_id: str, request: Request, last_event_id: str | None = Header(None),
    user: User = Depends(current_user), svc: Services = Depends(services),
) -> StreamingResponse:
    # Database reads off the event loop: a stream per open page, so they add up.
    job = await asyncio.to_thread(_owned, svc, user, job_id)
    name = await asyncio.to_thread(_name, svc, user, job)
    after = int(last_event_id) if last_event_id and last_event_id.isdigit() else None

    async def stream() -> AsyncIterator[str]:
        nonlocal after
        loop = asyncio.get_running_loop()
        last_sent = loop.time()
        checked: float | None = None
        if after is None:  # a fresh stream opens with the current snapshot
            events = await asyncio.to_thread(svc.jobs.events_after, job_id, 0)
            after = events[-1].id if events else 0
            current = await asyncio.to_thread(svc.jobs.get_job, job_id)
            yield _sse(after, "state", await asyncio.to_thread(_payload, svc, current, name, user.id))
        while True:
            events = await asyncio.to_thread(svc.jobs.events_after, job_id, after)
            if events:
                current = await asyncio.to_thread(svc.jobs.get_job, job_id)
                after = events[-1].id
                yield _sse(after, events[-1].kind, await asyncio.to_thread(_payload, svc, current, name, user.id))
                last_sent = loop.time()
            elif checked is None or loop.time() - checked >= STATE_CHECK_S:
                # Every state change writes an event, so between events this read is only a safety net.
                current = await asyncio.to_thread(svc.jobs.get_job, job_id)
                checked = loop.time()
            if current is None or current.state in FINAL:
                yield _sse(after, "end", await asyncio.to_thread(_payload, svc, current, name, user.id) if current else "{}")
                return
            if await request.is_disconnected():
                return
            if loop.time() - last_sent > PING_S:
                yield ": ping\n\n"
                last_sent = loop.time()
            await asyncio.sleep(EVENT_POLL_S)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _download_user(
    svc: Services, request: Request, credentials: HTTPAuthorizationCredentials | None, job_id: str, sig: str | None
) -> User:
    """The caller of a download: from its Authorization header, or from a download link's signature."""
    if sig is None or credentials is not None:
        return current_user(request, credentials, svc)
    user = svc.users.get(security.download_signer(job_id, sig, svc.secret))
    if user is None or user.disabled:
        raise NotAuthenticated("This account no longer exists or is disabled.")
    return user


def _payload(svc: Services, job: JobRecord, name: str, viewer_id: str) -> str:
    return json.dumps(job_view(job, svc.jobs, name, signing=(viewer_id, svc.secret)).model_dump(mode="json"))


@router.get("/download/{job_id}", response_class=FileResponse,
            responses={**ERRORS, 409: {"model": schemas.ErrorResponse}, 206: {"description": "A byte range"}})
async def download(
    job_id: str, request: Request,
    file: str | None = Query(None, description="'poster', or an output's filename; default: the video."),
    sig: str | None = Query(None, description="The signature in a job's download URLs (`video_url`, `poster_url`, "
                            "`outputs[].url`): it stands in for the Authorization header, for that job only."),
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer), svc: Services = Depends(services),
) -> FileResponse:
    """The video (Range requests supported, so players can seek), its poster, or another output."""
    user = await asyncio.to_thread(_download_user, svc, request, credentials, job_id, sig)
    job = await asyncio.to_thread(_owned, svc, user, job_id)
    if job.state != "succeeded":
        raise NotReady(_no_files(job.state, job.id), "job_id")
    folder = Path(svc.settings.VIDEOS_DIR)
    source = str((job.timings or {}).get("cached_from") or job.id)  # a cached job serves its source's files
    outputs = job.outputs or []
    videos = [o for o in outputs if o.get("kind") == "video"]
    if file is None:
        chosen = videos[0] if videos else None
    elif file == "poster":
        posters = [o for o in outputs if o.get("kind") == "poster"]
        chosen = posters[0] if posters else None
        if chosen is None and videos:
            path = await asyncio.to_thread(poster_for, folder / source / videos[0]["filename"])
            return FileResponse(path, media_type="image/jpeg", filename=f"{job_id}-poster.jpg")
    else:
        chosen = next((o for o in outputs if o["filename"] == file), None)
    if chosen is None:
        raise NotFound(f"Job {job_id} has no such file ({file or 'video'}).", "file")
    path = folder / source / Path(chosen["filename"]).name
    if not path.is_file():
        raise NotFound(f"The stored file of job {job_id} is missing on this server; run the job again.", "file")
    return FileResponse(path, filename=f"{job_id}-{path.name}")

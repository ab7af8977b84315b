"""Request and response models: what the OpenAPI document (and the page's generated client) describe."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. invalid_parameter.")
    message: str = Field(description="What went wrong and how to fix it, for a person.")
    field: str | None = Field(None, description="The request field at fault, when there is one.")


class ErrorResponse(BaseModel):
    error: ErrorBody


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class User(BaseModel):
    id: str
    username: str
    role: Literal["user", "admin"]
    created_at: datetime


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires.")
    user: User


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    database: Literal["ok"]
    instances_up: int
    executor: Literal["local", "celery"]


class WorkflowParameter(BaseModel):
    name: str
    type: Literal["string", "int", "float", "bool", "enum", "image"]
    default: Any = None
    min: float | None = None
    max: float | None = None
    step: int | None = None
    choices: list[Any] | None = None
    description: str = ""
    advanced: bool = Field(description="Shown under Advanced on the page.")


class Workflow(BaseModel):
    name: str
    version: int
    ref: str = Field(description="name@version, accepted wherever a workflow is named.")
    title: str
    description: str
    fps: float | None = Field(None, description="Frames per second of the video, when fixed by the workflow default.")
    latest: bool = Field(description="The newest version of this workflow name.")
    demo_model: bool = Field(False, description="The tiny random-weight demo model runs this workflow on this server "
                             "(its own files are absent): its videos are noise, and the defaults are a small clip.")
    parameters: list[WorkflowParameter]


class JobCreated(BaseModel):
    job_id: str
    state: JobState
    cached: bool


class Output(BaseModel):
    kind: str = Field(description="video, poster, image, ...")
    filename: str
    url: str


class Job(BaseModel):
    id: str
    user: str
    state: JobState
    progress: float = Field(ge=0, le=1, description="Share of the run done: the encodes take it to 0.05, the sampler's "
                            "steps to 0.95, decode and save to 0.99; 1 once the job succeeded.")
    step: int | None = Field(None, description="The running stage's own step (sampler steps, encode or decode chunks).")
    steps: int | None = Field(None, description="The running stage's own number of steps.")
    node: str | None = Field(None, description="The stage running now.")
    queue_position: int | None = Field(None, description="1-based place among waiting jobs; null unless waiting.")
    instance: str | None = None
    attempt: int
    cached: bool
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    workflow: str = Field(description="name@version")
    workflow_hash: str
    parameters: dict[str, Any]
    seed: int | None = None
    outputs: list[Output]
    video_url: str | None = None
    poster_url: str | None = None
    timings: dict[str, Any] | None = None


class JobPage(BaseModel):
    items: list[Job]
    total: int
    page: int
    page_size: int


class Instance(BaseModel):
    id: str
    url: str
    state: Literal["up", "down"]
    queue_depth: int = Field(description="Jobs given to this instance and not finished (running + waiting).")
    current_job: str | None = None
    node_types: int = Field(description="How many node types its /object_info lists.")
    last_seen_at: datetime | None = None
    error: str | None = None

"""Driving one job attempt on one ComfyUI instance (the same code in both executors).

The database is the truth; ComfyUI's queue and history are a transport. Every
write goes through the store fenced on (job_id, attempt), so a late duplicate of
this attempt, or an attempt the reaper has given up on, changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from orchestrator.comfy.client import ComfyClient, ComfyError, ComfyUnavailable, EventStream, PromptRejected
from orchestrator.comfy.outputs import sampler_stats
from orchestrator.errors import OrchestratorError
from orchestrator.workflows import WorkflowError, bind, get_workflow

from . import progress
from .limits import Limits

log = logging.getLogger(__name__)

PROMPT_NAMESPACE = uuid.UUID("6f1d2c9e-3b7a-4e55-9a0c-2d8f4b1e7c31")
VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov", ".gif", ".webp")


def prompt_id_for(job_id: str, attempt: int) -> str:
    """The same id for the same attempt, so a resubmission can find what is already queued."""
    return str(uuid.uuid5(PROMPT_NAMESPACE, f"{job_id}:{attempt}"))


class JobFault(OrchestratorError):
    """Ends the attempt: `retryable` for instance faults, not for problems of the job itself."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class _Stop(Exception):
    """The attempt is no longer ours (superseded or cancelled): leave quietly."""


@dataclass
class Instance:
    id: str
    url: str


@dataclass
class _Follow:
    submitted: float
    started: float | None = None
    last_activity: float = 0.0
    node: str | None = None
    node_started: float = 0.0
    node_seconds: dict[str, float] = field(default_factory=dict)
    done: bool = False
    error: JobFault | None = None
    interrupted: bool = False


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else (str(value) if value else None)


async def _db(fn: Any, *args: Any) -> Any:
    return await asyncio.to_thread(fn, *args)


async def drive(store: Any, settings: Any, job_id: str, attempt: int, instance: Instance) -> str:
    """Runs attempt `attempt` of `job_id` on `instance`; returns the outcome word (for logs and tests)."""
    limits = Limits.from_settings(settings)
    if not await _db(store.is_current, job_id, attempt):
        log.info("job %s attempt %s is not current; ignored", job_id, attempt)
        return "stale"
    client = ComfyClient(instance.url, timeout=limits.http_timeout_s)
    driver = _Driver(store, limits, client, job_id, attempt, instance)
    try:
        return await driver.run()
    finally:
        await client.aclose()


class _Driver:
    def __init__(self, store: Any, limits: Limits, client: ComfyClient, job_id: str, attempt: int, instance: Instance):
        self.store, self.limits, self.client = store, limits, client
        self.job_id, self.attempt, self.instance = job_id, attempt, instance
        self.prompt_id = prompt_id_for(job_id, attempt)
        self.client_id = f"wan-i2v-{self.prompt_id}"
        self.graph: dict[str, Any] = {}
        self.stream: EventStream | None = None
        self.cancel = asyncio.Event()
        self.superseded = False

    async def run(self) -> str:
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            return await self._run()
        except _Stop:
            return await self._stopped()
        except JobFault as fault:
            if not await _db(self.store.fail, self.job_id, self.attempt, str(fault), fault.retryable):
                # Another delivery of this attempt already ended it: its prompt is not ours to touch.
                log.info("job %s attempt %s ended elsewhere; fault ignored: %s", self.job_id, self.attempt, fault)
                return "stale"
            await self._abandon_prompt()
            log.warning("job %s attempt %s failed (retryable=%s): %s", self.job_id, self.attempt, fault.retryable, fault)
            return "retry" if fault.retryable else "failed"
        except ComfyUnavailable as exc:
            applied = await _db(self.store.fail, self.job_id, self.attempt, f"instance {self.instance.id}: {exc}", True)
            return "retry" if applied else "stale"
        except asyncio.CancelledError:
            # The orchestrator is stopping: give the GPU back and let the job be claimed again.
            await asyncio.shield(self._give_back())
            raise
        finally:
            heartbeat.cancel()
            if self.stream is not None:
                await self.stream.close()

    async def _give_back(self) -> None:
        try:
            await asyncio.wait_for(self._abandon_prompt(), 5)
        except (asyncio.TimeoutError, ComfyError):
            pass
        await _db(self.store.fail, self.job_id, self.attempt, "the dispatcher stopped during the job", True)

    async def _run(self) -> str:
        job = await _db(self.store.get_job, self.job_id)
        if job is None:
            return "stale"
        if await _db(self.store.cancel_requested, self.job_id, self.attempt):
            raise _Stop
        self.graph, workflow_ref = self._bind(job)  # validation errors before touching the instance

        # The socket opens before anything is submitted, so a fast prompt's end is not missed.
        self.stream = await self.client.connect_events(self.client_id)
        entry, queued = await self._look_up()
        follow = _Follow(submitted=time.monotonic())
        if entry is None and self.prompt_id not in queued:
            image = await self._upload(job)
            self.graph = self._with_image(self.graph, job, image)
            if await _db(self.store.mark_running, self.job_id, self.attempt, self.prompt_id):
                try:
                    await self.client.submit(self.graph, self.prompt_id, self.client_id)
                except PromptRejected as exc:
                    raise JobFault(f"ComfyUI refused the workflow {workflow_ref}: {exc}", retryable=False) from exc
                follow.submitted = time.monotonic()
            else:
                entry, queued = await self._await_other_delivery(await _db(self.store.get_job, self.job_id))
        if entry is not None or self.prompt_id in queued:
            log.info("job %s attempt %s is already on %s; following it", self.job_id, self.attempt, self.instance.id)
            if self.prompt_id in queued.running:
                follow.started = time.monotonic()
        follow.last_activity = time.monotonic()
        submitted_at = _now_iso()
        if entry is None:
            entry = await self._follow(follow)
        return await self._finish(job, entry, follow, submitted_at)

    async def _look_up(self) -> tuple[dict[str, Any] | None, Any]:
        """This attempt's prompt on the instance: its history entry (None until it ends) and the queue."""
        return await self.client.history(self.prompt_id), await self.client.queue()

    async def _await_other_delivery(self, job: Any) -> tuple[dict[str, Any] | None, Any]:
        """Another delivery of this attempt marked it running first; its submit may still be on the way.

        The instance gets `unreachable_s` to show the prompt before it counts as restarted, so a
        duplicate that arrives between the other's mark and its submit follows instead of failing it."""
        if job is None or job.state != "running" or job.prompt_id != self.prompt_id or job.attempt != self.attempt:
            raise _Stop
        deadline = time.monotonic() + self.limits.unreachable_s
        while True:
            entry, queued = await self._look_up()
            if entry is not None or self.prompt_id in queued:
                return entry, queued
            if not await _db(self.store.is_current, self.job_id, self.attempt):
                raise _Stop
            if time.monotonic() > deadline:
                # This attempt was submitted before, yet the instance has no trace of it.
                raise JobFault(f"instance {self.instance.id} no longer knows the job (it restarted)", True)
            await asyncio.sleep(self.limits.poll_s)

    # ------------------------------------------------------------ binding

    def _bind(self, job: Any) -> tuple[dict[str, Any], str]:
        try:
            workflow = get_workflow(job.workflow, job.workflow_version)
        except WorkflowError as exc:
            raise JobFault(str(exc), retryable=False) from exc
        if job.workflow_hash and workflow.content_hash != job.workflow_hash:
            raise JobFault(
                f"workflow {workflow.ref} changed since the job was created (content hash differs); submit it again",
                retryable=False,
            )
        image_params = {p.name for p in workflow.manifest.parameters if p.type == "image"}
        params = {k: v for k, v in dict(job.parameters or {}).items() if k not in image_params}
        if "seed" in workflow.manifest.names and job.seed is not None:
            params["seed"] = job.seed
        try:
            graph = bind(workflow, params, image="__input__" if image_params else None)
        except WorkflowError as exc:
            raise JobFault(str(exc), retryable=False) from exc
        # Every file this job writes goes under jobs/<job_id>/, on any instance.
        for node in graph.values():
            inputs = node.get("inputs", {})
            prefix = inputs.get("filename_prefix")
            if isinstance(prefix, str):
                inputs["filename_prefix"] = f"jobs/{self.job_id}/{prefix.rsplit('/', 1)[-1] or 'out'}"
        return graph, workflow.ref

    def _with_image(self, graph: dict[str, Any], job: Any, image: str | None) -> dict[str, Any]:
        if image is not None:
            for node in graph.values():
                for key, value in node.get("inputs", {}).items():
                    if value == "__input__":
                        node["inputs"][key] = image
        return graph

    async def _upload(self, job: Any) -> str | None:
        if not any(v == "__input__" for n in self.graph.values() for v in n.get("inputs", {}).values()):
            return None
        path = Path(job.image_path)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise JobFault(f"the job's input image {path} cannot be read: {exc}", retryable=False) from exc
        try:
            return await self.client.upload_image(data, path.name, subfolder=f"jobs/{self.job_id}")
        except ComfyUnavailable:
            raise
        except ComfyError as exc:
            raise JobFault(f"ComfyUI refused the input image: {exc}", retryable=False) from exc

    # ------------------------------------------------------------ following

    async def _follow(self, f: _Follow) -> dict[str, Any]:
        """Frames until done; history polled whenever the socket is quiet or drops."""
        last_progress_write = 0.0
        bar = 0.0
        unreachable_since: float | None = None
        while True:
            frame = None
            if self.stream is not None:
                try:
                    frame = await self.stream.next(self.limits.poll_s)
                except ComfyUnavailable:
                    self.stream = None
            else:
                await asyncio.sleep(self.limits.poll_s)
                try:
                    self.stream = await self.client.connect_events(self.client_id)
                except ComfyUnavailable:
                    pass
            if self.cancel.is_set():
                raise _Stop
            if frame is not None and self._handle(frame, f):
                now = time.monotonic()
                data = frame["data"]
                value, total = int(data.get("value", 0) or 0), int(data.get("max", 0) or 0)
                # At most one progress row per interval, but a stage's last step is always written.
                due = now - last_progress_write >= self.limits.progress_write_s or (total and value >= total)
                if frame["type"] == "progress" and due:
                    last_progress_write = now
                    node = data.get("node")
                    # Never back: a node served again (an instance's retry) or a second sampler stays ahead.
                    bar = max(bar, progress.overall(self.graph, node, value, total))
                    await _db(self.store.progress, self.job_id, self.attempt, value, total, self._label(node), bar)
            if f.error is not None:
                raise f.error
            if f.done or frame is None:
                try:
                    entry = await self.client.history(self.prompt_id)
                    queued = await self.client.queue() if entry is None and not f.done else None
                except ComfyUnavailable as exc:
                    # A short outage (a restart, a network blip) is waited out; a long one is a fault.
                    unreachable_since = unreachable_since or time.monotonic()
                    if time.monotonic() - unreachable_since > self.limits.unreachable_s:
                        raise JobFault(f"instance {self.instance.id} is unreachable: {exc}", retryable=True) from exc
                    continue
                unreachable_since = None
                if entry is not None:
                    return entry
                if queued is None:
                    continue  # the final frame can reach us before history is written
                if self.prompt_id not in queued:
                    raise JobFault(
                        f"instance {self.instance.id} no longer knows the job (it restarted or dropped its queue)",
                        retryable=True,
                    )
                if self.prompt_id in queued.running and f.started is None:
                    f.started = f.last_activity = time.monotonic()
            self._check_limits(f)

    def _handle(self, frame: dict[str, Any], f: _Follow) -> bool:
        """Updates `f` from one frame; True if it was about this prompt."""
        kind, data = frame.get("type"), frame.get("data") or {}
        if data.get("prompt_id") != self.prompt_id:
            return False
        now = time.monotonic()
        f.last_activity = now
        if kind == "execution_start":
            f.started = now
        elif kind == "executing":
            if f.node is not None:
                f.node_seconds[f.node] = f.node_seconds.get(f.node, 0.0) + now - f.node_started
            node = data.get("node")
            f.node, f.node_started = node, now
            if node is None:
                f.done = True
        elif kind == "execution_error":
            where = self._label(data.get("node_id"))
            retry = "OutOfMemory" in str(data.get("exception_type", ""))
            f.error = JobFault(f"{where} failed: {data.get('exception_message', '').strip()}", retryable=retry)
        elif kind == "execution_interrupted":
            f.interrupted = True
            if not self.cancel.is_set():
                f.error = JobFault(f"the job was interrupted on instance {self.instance.id}", retryable=False)
        return True

    def _label(self, node_id: Any) -> str | None:
        node = self.graph.get(str(node_id)) if node_id is not None else None
        if node is None:
            return None
        title = (node.get("_meta") or {}).get("title")
        return str(title or node.get("class_type"))

    def _check_limits(self, f: _Follow) -> None:
        now = time.monotonic()
        lim = self.limits
        if f.started is None:
            if now - f.submitted > lim.job_timeout_s:
                raise JobFault(f"instance {self.instance.id} did not start the job within {lim.job_timeout_s:g} s", True)
            return
        if now - f.started > lim.job_timeout_s:
            raise JobFault(f"the job ran past its {lim.job_timeout_s:g} s timeout and was stopped", retryable=False)
        if now - f.last_activity > lim.progress_silence_s:
            raise JobFault(
                f"the job sent no progress for {lim.progress_silence_s:g} s (stuck in {self._label(f.node) or 'a node'}) "
                "and was stopped",
                retryable=False,
            )

    # ------------------------------------------------------------ ending

    async def _finish(self, job: Any, entry: dict[str, Any], f: _Follow, submitted_at: str) -> str:
        status = entry.get("status") or {}
        if status.get("status_str") != "success":
            message = self._history_error(status)
            await self.client.delete_history([self.prompt_id])
            if self.cancel.is_set():
                raise _Stop
            raise JobFault(message, retryable=False)
        outputs = await self._collect(entry)
        await self.client.delete_history([self.prompt_id])
        started, finished = _history_times(status)
        timings = {
            "queued": _iso(job.created_at),
            "claimed": _iso(getattr(job, "claimed_at", None)),
            "submitted": submitted_at,
            "started": started,
            "finished": finished or _now_iso(),
            "nodes": {self._label(k) or k: round(v, 4) for k, v in f.node_seconds.items()},
            "instance": self.instance.id,
            "prompt_id": self.prompt_id,
            "seed": job.seed,
        }
        sampler = sampler_stats(entry.get("outputs") or {})
        if sampler:  # what the sampler did: passes computed/skipped per branch, cache, attention backend
            timings["sampler"] = sampler
        if await _db(self.store.succeed, self.job_id, self.attempt, outputs, timings):
            return "succeeded"
        return "stale"

    def _history_error(self, status: dict[str, Any]) -> str:
        for event, data in status.get("messages") or []:
            if event == "execution_error":
                return f"{self._label(data.get('node_id')) or 'a node'} failed: {str(data.get('exception_message', '')).strip()}"
            if event == "execution_interrupted":
                return f"the job was interrupted on instance {self.instance.id}"
        return "ComfyUI reported the job as failed without a message"

    async def _collect(self, entry: dict[str, Any]) -> list[dict[str, Any]]:
        """Every file in every list-valued output key, copied into VIDEOS_DIR/<job_id>/.

        A local write failure (the videos disk full, a read-only folder) fails the job with that reason
        and removes its partial folder; other jobs' files are untouched."""
        folder = self.limits.videos_dir / self.job_id
        try:
            return await self._collect_into(folder, entry)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            reason = exc.strerror or str(exc)
            raise JobFault(f"the output could not be stored in the videos folder: {reason}", retryable=False) from exc

    async def _collect_into(self, folder: Path, entry: dict[str, Any]) -> list[dict[str, Any]]:
        folder.mkdir(parents=True, exist_ok=True)
        outputs: list[dict[str, Any]] = []
        for node_id, ui in (entry.get("outputs") or {}).items():
            for key, items in (ui or {}).items():
                if not isinstance(items, list):
                    continue
                for item in items:
                    if not (isinstance(item, dict) and "filename" in item) or item.get("type", "output") == "temp":
                        continue
                    name = Path(str(item["filename"])).name
                    dest = folder / name
                    if any(o["filename"] == name for o in outputs):
                        dest = folder / f"{node_id}_{name}"
                    await self.client.download(name, str(item.get("subfolder", "")), str(item.get("type", "output")), dest)
                    outputs.append({"kind": _kind(key, name), "key": key, "node": node_id, "filename": dest.name, "path": str(dest)})
        if not outputs:
            raise JobFault("the workflow finished but saved no files", retryable=False)
        return outputs

    async def _abandon_prompt(self) -> None:
        """Takes this attempt's prompt off the instance: queue delete if pending, targeted interrupt if running."""
        try:
            queued = await self.client.queue()
            if self.prompt_id in queued.pending:
                await self.client.delete_queued([self.prompt_id])
            elif self.prompt_id in queued.running:
                await self.client.interrupt(self.prompt_id)
            await self.client.delete_history([self.prompt_id])
        except ComfyError:
            pass

    async def _stopped(self) -> str:
        await self._abandon_prompt()
        if self.superseded or not await _db(self.store.cancel_requested, self.job_id, self.attempt):
            return "stale"
        if await _db(self.store.mark_cancelled, self.job_id, self.attempt):
            return "cancelled"
        return "stale"

    async def _heartbeat(self) -> None:
        """On a timer, not on progress: a long silent node must not look dead."""
        while True:
            await asyncio.sleep(self.limits.heartbeat_s)
            try:
                alive = await _db(self.store.heartbeat, self.job_id, self.attempt)
                if not alive:
                    self.superseded = True
                    self.cancel.set()
                elif await _db(self.store.cancel_requested, self.job_id, self.attempt):
                    self.cancel.set()
            except Exception:  # a database hiccup must not kill the job; the next beat retries
                log.exception("heartbeat for job %s failed", self.job_id)


def _kind(key: str, filename: str) -> str:
    if key == "posters":
        return "poster"
    if filename.lower().endswith(VIDEO_SUFFIXES):
        return "video"
    return key.rstrip("s") or key


def _history_times(status: dict[str, Any]) -> tuple[str | None, str | None]:
    started = finished = None
    for event, data in status.get("messages") or []:
        stamp = data.get("timestamp") if isinstance(data, dict) else None
        if stamp is None:
            continue
        iso = datetime.fromtimestamp(stamp / 1000, timezone.utc).isoformat()
        if event == "execution_start":
            started = iso
        elif event in ("execution_success", "execution_error", "execution_interrupted"):
            finished = iso
    return started, finished

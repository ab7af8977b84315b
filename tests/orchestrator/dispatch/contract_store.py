"""A small SQLite job store with the service contract's signatures and fenced writes.

Used by the dispatch tests while they must not depend on the service's own store
module; every write is a conditional UPDATE on (id, attempt), as the contract says.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

from orchestrator.workflows import get_workflow

JSON_COLUMNS = ("parameters", "outputs", "timings", "node_types", "data")
SCHEMA = """
CREATE TABLE jobs (id TEXT PRIMARY KEY, user_id TEXT, workflow TEXT, workflow_version INT, workflow_hash TEXT,
  parameters TEXT, seed INT, image_path TEXT, state TEXT, attempt INT DEFAULT 0, instance_id TEXT,
  prompt_id TEXT, cancel_requested INT DEFAULT 0, progress REAL DEFAULT 0, step INT, steps INT, node TEXT,
  error TEXT, outputs TEXT, timings TEXT, created_at TEXT, claimed_at TEXT, started_at TEXT, finished_at TEXT,
  heartbeat_at TEXT, seq INTEGER);
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT, kind TEXT, data TEXT);
CREATE TABLE instances (id TEXT PRIMARY KEY, url TEXT, queue TEXT, state TEXT, node_types TEXT,
  last_seen_at TEXT, error TEXT);
"""


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Claim:
    job_id: str
    attempt: int
    instance_id: str


class ContractStore:
    def __init__(self, path: str, create: bool = True) -> None:
        self.path = path
        self._lock = threading.RLock()
        if create:
            db = self._db()
            db.executescript(SCHEMA)
            db.execute("PRAGMA journal_mode=WAL")
            db.close()

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        return db

    def _exec(self, sql: str, *args: Any) -> int:
        with self._lock:
            db = self._db()
            try:
                return db.execute(sql, args).rowcount
            finally:
                db.close()

    def _rows(self, sql: str, *args: Any) -> list[SimpleNamespace]:
        with self._lock:
            db = self._db()
            try:
                rows = db.execute(sql, args).fetchall()
            finally:
                db.close()
        out = []
        for row in rows:
            d = dict(row)
            for key in JSON_COLUMNS:
                if key in d and d[key] is not None:
                    d[key] = json.loads(d[key])
            for key in list(d):
                if key.endswith("_at") and d[key]:
                    d[key] = datetime.fromisoformat(d[key])
            out.append(SimpleNamespace(**d))
        return out

    def _event(self, job_id: str, kind: str) -> None:
        job = self.get_job(job_id)
        data = {"state": job.state, "progress": job.progress, "attempt": job.attempt}
        self._exec("INSERT INTO events (job_id, kind, data) VALUES (?,?,?)", job_id, kind, json.dumps(data))

    # ------------------------------------------------------------ jobs

    def create_job(self, user_id: str, workflow: str, parameters: dict, image_path: str, seed: int = 0) -> Any:
        wf = get_workflow(workflow)
        job_id = uuid.uuid4().hex
        self._exec(
            "INSERT INTO jobs (id, user_id, workflow, workflow_version, workflow_hash, parameters, seed, image_path,"
            " state, created_at, seq) VALUES (?,?,?,?,?,?,?,?, 'queued', ?, (SELECT COUNT(*) FROM jobs))",
            job_id, user_id, wf.name, wf.version, wf.content_hash, json.dumps(parameters), seed, image_path,
            _now().isoformat(),
        )
        self._event(job_id, "state")
        return self.get_job(job_id)

    def get_job(self, job_id: str) -> Any:
        rows = self._rows("SELECT * FROM jobs WHERE id=?", job_id)
        return rows[0] if rows else None

    def events(self, job_id: str) -> list[Any]:
        return self._rows("SELECT * FROM events WHERE job_id=? ORDER BY id", job_id)

    def request_cancel(self, job_id: str) -> str:
        if self._exec("UPDATE jobs SET state='cancelled', finished_at=? WHERE id=? AND state='queued'", _now().isoformat(), job_id):
            self._event(job_id, "state")
            return "cancelled"
        self._exec("UPDATE jobs SET cancel_requested=1 WHERE id=? AND state='running'", job_id)
        return self.get_job(job_id).state

    def claim_next(self, instance_id: str) -> Claim | None:
        with self._lock:
            inst = self._rows("SELECT * FROM instances WHERE id=?", instance_id)
            if not inst or inst[0].state != "up":
                return None
            have = set(inst[0].node_types or [])
            busy = self._rows(
                "SELECT COUNT(*) AS n FROM jobs WHERE instance_id=? AND (state='running' OR (state='queued' AND attempt>0))",
                instance_id,
            )[0].n
            if busy >= 2:
                return None
            candidates = self._rows(
                "SELECT j.*, (SELECT COUNT(*) FROM jobs r WHERE r.user_id=j.user_id AND r.state='running') AS load"
                " FROM jobs j WHERE j.state='queued' AND j.instance_id IS NULL ORDER BY load, seq"
            )
            for job in candidates:
                needed = {n["class_type"] for n in get_workflow(job.workflow, job.workflow_version).api.values()}
                if needed <= have:
                    moved = self._exec(
                        "UPDATE jobs SET attempt=attempt+1, instance_id=?, claimed_at=?, heartbeat_at=?"
                        " WHERE id=? AND attempt=? AND state='queued' AND instance_id IS NULL",
                        instance_id, _now().isoformat(), _now().isoformat(), job.id, job.attempt,
                    )
                    if moved:
                        return Claim(job.id, job.attempt + 1, instance_id)
            return None

    def _fenced(self, sql: str, job_id: str, attempt: int, *args: Any, states: str = "'running'") -> bool:
        return bool(self._exec(f"UPDATE jobs SET {sql} WHERE id=? AND attempt=? AND state IN ({states})", *args, job_id, attempt))

    def is_current(self, job_id: str, attempt: int) -> bool:
        job = self.get_job(job_id)
        return job is not None and job.attempt == attempt and job.state in ("queued", "running") and job.instance_id is not None

    def cancel_requested(self, job_id: str, attempt: int) -> bool:
        job = self.get_job(job_id)
        return job is not None and job.attempt == attempt and bool(job.cancel_requested)

    def mark_running(self, job_id: str, attempt: int, prompt_id: str) -> bool:
        now = _now().isoformat()
        ok = self._fenced("state='running', prompt_id=?, started_at=?, heartbeat_at=?", job_id, attempt, prompt_id, now, now,
                          states="'queued'")
        if ok:
            self._event(job_id, "state")
        return ok

    def heartbeat(self, job_id: str, attempt: int) -> bool:
        return self._fenced("heartbeat_at=?", job_id, attempt, _now().isoformat(), states="'queued','running'")

    def progress(self, job_id: str, attempt: int, step: int, steps: int, node: str | None, progress: float) -> bool:
        ok = self._fenced("step=?, steps=?, node=?, progress=?", job_id, attempt, step, steps, node, progress)
        if ok:
            self._event(job_id, "progress")
        return ok

    def succeed(self, job_id: str, attempt: int, outputs: list, timings: dict) -> bool:
        ok = self._fenced("state='succeeded', outputs=?, timings=?, progress=1, finished_at=?", job_id, attempt,
                          json.dumps(outputs), json.dumps(timings), _now().isoformat())
        if ok:
            self._event(job_id, "state")
        return ok

    def fail(self, job_id: str, attempt: int, error: str, retryable: bool, retry_limit: int = 3) -> bool:
        if retryable and attempt < retry_limit:
            ok = self._fenced("state='queued', instance_id=NULL, error=?", job_id, attempt, error, states="'queued','running'")
        else:
            ok = self._fenced("state='failed', error=?, finished_at=?", job_id, attempt, error, _now().isoformat(),
                              states="'queued','running'")
        if ok:
            self._event(job_id, "state")
        return ok

    def mark_cancelled(self, job_id: str, attempt: int) -> bool:
        ok = self._fenced("state='cancelled', finished_at=?", job_id, attempt, _now().isoformat(), states="'queued','running'")
        if ok:
            self._event(job_id, "state")
        return ok

    # ------------------------------------------------------------ instances

    def upsert_instance(self, instance_id: str, url: str, queue: str) -> None:
        self._exec("INSERT INTO instances (id, url, queue, state) VALUES (?,?,?, 'down') ON CONFLICT(id) DO UPDATE"
                   " SET url=excluded.url, queue=excluded.queue", instance_id, url, queue)

    def instance_seen(self, instance_id: str, node_types: list[str]) -> None:
        self._exec("UPDATE instances SET state='up', node_types=?, last_seen_at=?, error=NULL WHERE id=?",
                   json.dumps(node_types), _now().isoformat(), instance_id)

    def instance_down(self, instance_id: str, error: str) -> None:
        self._exec("UPDATE instances SET state='down', error=? WHERE id=?", error, instance_id)

    def list_instances(self) -> list[Any]:
        return self._rows("SELECT * FROM instances ORDER BY id")


def reap(store: ContractStore, stale_after_s: float, retry_limit: int, job_timeout_s: float) -> list[str]:
    """Attempts whose heartbeat is stale go back to the queue (or fail after the retry limit)."""
    cutoff = _now() - timedelta(seconds=stale_after_s)
    reaped = []
    for job in store._rows("SELECT * FROM jobs WHERE instance_id IS NOT NULL AND state IN ('queued','running')"):
        if job.heartbeat_at is not None and job.heartbeat_at < cutoff:
            if store.fail(job.id, job.attempt, f"instance {job.instance_id} stopped reporting on the job", True, retry_limit):
                reaped.append(job.id)
    return reaped

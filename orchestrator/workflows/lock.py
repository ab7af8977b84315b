"""workflows.lock.json: the sha256 of every released workflow file.

    {"i2v_480p@1": {"api.json": "<sha256>", "manifest.json": "<sha256>", "ui.json": "<sha256>"}, ...}

A released version never changes; to change a workflow, copy its folder to the
next version, edit it, and add it to the lock with `wan-i2v workflows lock`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .registry import FILES, list_workflows, workflows_dir

LOCK_NAME = "workflows.lock.json"


def lock_path(root: Path | None = None) -> Path:
    return (root or workflows_dir()) / LOCK_NAME


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_lock(root: Path | None = None) -> dict[str, dict[str, str]]:
    path = lock_path(root)
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def verify_lock(root: Path | None = None) -> list[str]:
    """Problems found (empty when every released file matches the lock and every version is locked)."""
    root = root or workflows_dir()
    if not lock_path(root).exists():
        return [f"{lock_path(root)} is missing; run `wan-i2v workflows lock` to create it."]
    locked = read_lock(root)
    problems = []
    present = {w.ref: w for w in list_workflows(root)}
    for ref, files in sorted(locked.items()):
        workflow = present.get(ref)
        if workflow is None:
            problems.append(f"{ref} is in the lock but its folder is missing; released versions must stay.")
            continue
        for name, expected in sorted(files.items()):
            path = workflow.path / name
            if not path.exists():
                problems.append(f"{ref}/{name} is locked but missing.")
            elif file_sha256(path) != expected:
                problems.append(
                    f"{ref}/{name} changed since it was released (sha256 {file_sha256(path)[:12]}, locked {expected[:12]}). "
                    "Released versions never change: restore it, and put the change in a new version folder."
                )
    for ref in sorted(set(present) - set(locked)):
        problems.append(f"{ref} is not in the lock; run `wan-i2v workflows lock` to release it.")
    return problems


def update_lock(root: Path | None = None) -> list[str]:
    """Add versions that are not locked yet; never touch existing entries. Returns the added refs."""
    root = root or workflows_dir()
    locked = read_lock(root)
    added = []
    for workflow in list_workflows(root):
        if workflow.ref in locked:
            continue
        locked[workflow.ref] = {name: file_sha256(workflow.path / name) for name in FILES if (workflow.path / name).exists()}
        added.append(workflow.ref)
    if added or not lock_path(root).exists():
        text = json.dumps(dict(sorted(locked.items())), indent=2, sort_keys=True) + "\n"
        lock_path(root).write_text(text, encoding="utf-8")
    return added

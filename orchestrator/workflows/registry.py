"""The released workflows: `workflows/<name>/<version>/{api.json, ui.json, manifest.json}`.

A released version never changes (workflows.lock.json pins every file's hash);
a change means a new version folder. `name@version` names one version; a bare
name means the latest.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from .errors import WorkflowFormatError, WorkflowNotFoundError
from .manifest import Manifest, parse_manifest

FILES = ("api.json", "ui.json", "manifest.json")


def workflows_dir() -> Path:
    """The top-level workflows/ folder, or WAN_WORKFLOWS_DIR when set."""
    env = os.environ.get("WAN_WORKFLOWS_DIR")
    return Path(env).resolve() if env else Path(__file__).resolve().parents[2] / "workflows"


def canonical_json(data: Any) -> str:
    """Key-sorted, compact JSON: the same content always gives the same text."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Workflow:
    name: str
    version: int
    path: Path  # the version folder

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @cached_property
    def api(self) -> dict[str, Any]:
        return _read_json(self.path / "api.json")

    @cached_property
    def ui(self) -> dict[str, Any] | None:
        path = self.path / "ui.json"
        return _read_json(path) if path.exists() else None

    @cached_property
    def manifest(self) -> Manifest:
        manifest = parse_manifest(_read_json(self.path / "manifest.json"))
        if (manifest.name, manifest.version) != (self.name, self.version):
            raise WorkflowFormatError(
                f"{self.path / 'manifest.json'} says {manifest.name}@{manifest.version} but lives in {self.ref}'s folder"
            )
        return manifest

    @property
    def description(self) -> str:
        return self.manifest.description

    @property
    def content_hash(self) -> str:
        """sha256 over the canonical API graph and manifest: what a job really ran."""
        text = canonical_json({"api": self.api, "manifest": _read_json(self.path / "manifest.json")})
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_ref(ref: str, version: int | str | None = None) -> tuple[str, int | None]:
    """'name@3' -> ('name', 3); 'name' -> ('name', version)."""
    name, _, tail = ref.partition("@")
    if tail:
        if version is not None and str(version) != tail:
            raise WorkflowNotFoundError(f"'{ref}' and version {version} disagree")
        version = tail
    if version is None:
        return name, None
    try:
        return name, int(version)
    except ValueError:
        raise WorkflowNotFoundError(f"Workflow version must be a whole number, got '{version}' in '{ref}'.") from None


def list_workflows(root: Path | None = None) -> list[Workflow]:
    """Every released version, by name then version."""
    root = root or workflows_dir()
    found = []
    if root.is_dir():
        for name_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            for version_dir in name_dir.iterdir():
                if version_dir.is_dir() and version_dir.name.isdigit() and (version_dir / "api.json").exists():
                    found.append(Workflow(name_dir.name, int(version_dir.name), version_dir))
    return sorted(found, key=lambda w: (w.name, w.version))


def get_workflow(name: str, version: int | str | None = None, root: Path | None = None) -> Workflow:
    """One workflow by name (latest version) or `name@version`."""
    base, wanted = parse_ref(name, version)
    matches = [w for w in list_workflows(root) if w.name == base]
    if not matches:
        known = sorted({w.name for w in list_workflows(root)})
        raise WorkflowNotFoundError(f"No workflow named '{base}'. Known workflows: {', '.join(known) or '(none)'}.")
    if wanted is None:
        return matches[-1]
    for workflow in matches:
        if workflow.version == wanted:
            return workflow
    versions = ", ".join(str(w.version) for w in matches)
    raise WorkflowNotFoundError(f"Workflow '{base}' has no version {wanted}. Released versions: {versions}.")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WorkflowFormatError(f"{path} is missing") from None
    except json.JSONDecodeError as exc:
        raise WorkflowFormatError(f"{path} is not valid JSON: {exc}") from exc

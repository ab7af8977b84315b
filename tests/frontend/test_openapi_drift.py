"""The page's API types are generated from frontend/openapi.json; that file must be what the
orchestrator serves. Regenerate both with:

    .venv/bin/wan-i2v openapi > frontend/openapi.json && npm --prefix frontend run gen:api
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "frontend" / "openapi.json"
FIX = ".venv/bin/wan-i2v openapi > frontend/openapi.json && npm --prefix frontend run gen:api"


def _served() -> dict[str, Any]:
    """What `wan-i2v openapi` prints (run as a module so the test needs no installed script)."""
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli.main", "openapi"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, f"`wan-i2v openapi` failed ({done.returncode}):\n{done.stderr[-2000:]}"
    return json.loads(done.stdout)


def _differences(committed: dict[str, Any], served: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for section, key in (("paths", "paths"), ("schemas", "components")):
        old = committed.get(key, {}) if section == "paths" else committed.get(key, {}).get("schemas", {})
        new = served.get(key, {}) if section == "paths" else served.get(key, {}).get("schemas", {})
        lines += [f"{section}: {name} only in the served API" for name in sorted(set(new) - set(old))]
        lines += [f"{section}: {name} only in frontend/openapi.json" for name in sorted(set(old) - set(new))]
        lines += [f"{section}: {name} differs" for name in sorted(set(old) & set(new)) if old[name] != new[name]]
    if not lines and committed != served:
        lines.append("top-level fields differ (info, tags, ...)")
    return lines


def test_frontend_openapi_matches_the_served_api() -> None:
    assert COMMITTED.is_file(), f"frontend/openapi.json is missing; make it with: {FIX}"
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    served = _served()
    differences = _differences(committed, served)
    assert not differences, (
        "frontend/openapi.json has drifted from the API the orchestrator serves:\n  "
        + "\n  ".join(differences[:30])
        + f"\nRegenerate it (and the page's types) with: {FIX}"
    )


def test_drift_is_reported_by_name() -> None:
    """The comparison names what changed, so a failure says where to look."""
    served = {"paths": {"/api/jobs": {"get": {}}}, "components": {"schemas": {"Job": {"type": "object"}}}}
    committed = {"paths": {"/api/old": {}}, "components": {"schemas": {"Job": {"type": "string"}}}}
    assert _differences(committed, served) == [
        "paths: /api/jobs only in the served API",
        "paths: /api/old only in frontend/openapi.json",
        "schemas: Job differs",
    ]
    assert _differences(served, served) == []

"""The pack's registry metadata and requirements agree."""

from __future__ import annotations

import tomllib
from pathlib import Path

PACK = Path(__file__).resolve().parents[2] / "comfy_nodes"


def test_pyproject_dependencies_match_requirements_txt():
    declared = tomllib.loads((PACK / "pyproject.toml").read_text())["project"]["dependencies"]
    listed = [line.strip() for line in (PACK / "requirements.txt").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert sorted(declared) == sorted(listed)
    assert not [d for d in declared if d.startswith("torch")]  # ComfyUI brings its own torch

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


def test_registry_metadata_is_complete():
    data = tomllib.loads((PACK / "pyproject.toml").read_text())
    comfy = data["tool"]["comfy"]
    for key in ("PublisherId", "DisplayName", "Icon", "requires-comfyui"):
        assert comfy.get(key), f"[tool.comfy] {key} is empty"
    assert comfy["Icon"].startswith("https://") and comfy["Icon"].endswith("/comfy_nodes/icon.png")
    assert (PACK / "icon.png").is_file()  # the file the Icon URL points at, in this repository
    assert comfy["requires-comfyui"].startswith(">=")
    urls = data["project"]["urls"]
    assert {"Homepage", "Documentation", "Repository", "Issues"} <= set(urls)
    assert all(url.startswith("https://") for url in urls.values())
    assert data["project"]["version"] == tomllib.loads((PACK.parent / "pyproject.toml").read_text())["project"]["version"]

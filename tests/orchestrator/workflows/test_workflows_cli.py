"""`wan-i2v workflows list|show|validate|lock`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli.workflows import app
from orchestrator.workflows import get_workflow, workflows_dir

runner = CliRunner()


def test_list_shows_refs_hashes_and_descriptions():
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("i2v_480p@1"))
    assert get_workflow("i2v_480p@1").content_hash[:12] in line
    assert "480p" in line.split(maxsplit=2)[2]


def test_show_prints_parameters_with_bounds():
    result = runner.invoke(app, ["show", "i2v_720p"])
    assert result.exit_code == 0, result.output
    steps = next(line for line in result.output.splitlines() if line.startswith("steps "))
    assert steps.split()[:4] == ["steps", "int", "40", "1..200"]
    shift = next(line for line in result.output.splitlines() if line.startswith("shift "))
    assert shift.split()[:3] == ["shift", "float", "5.0"]


def test_show_json():
    result = runner.invoke(app, ["show", "i2v_480p@1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ref"] == "i2v_480p@1"
    assert data["content_hash"] == get_workflow("i2v_480p@1").content_hash
    assert {p["name"] for p in data["parameters"]} >= {"image", "prompt", "seed", "steps", "attention", "vae"}


def test_show_unknown_workflow_fails():
    result = runner.invoke(app, ["show", "i2v_2k"])
    assert result.exit_code == 1
    assert "No workflow named 'i2v_2k'" in result.output


def test_validate_released_workflows_and_lock():
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    assert "ok    i2v_480p@1" in result.output
    assert "ok    workflows.lock.json" in result.output


def test_validate_a_file_prints_node_errors(tmp_path: Path):
    prompt = get_workflow("i2v_480p@1").api
    prompt["10"]["inputs"]["steps"] = 500
    prompt["12"]["inputs"]["format"] = "avi"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(prompt), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "Value 500 bigger than max of 200: steps on node 10 (WanI2VSampler). Use a value from 1 to 200." in result.output
    assert "Value not in list: format on node 12 (WanI2VSaveVideo). Allowed values: ['mp4', 'webm']." in result.output


def test_validate_fails_on_a_changed_released_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = tmp_path / "workflows"
    shutil.copytree(workflows_dir(), root)
    monkeypatch.setenv("WAN_WORKFLOWS_DIR", str(root))
    api = root / "i2v_720p" / "1" / "api.json"
    api.write_text(api.read_text(encoding="utf-8").replace('"steps": 40', '"steps": 30'), encoding="utf-8")
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 1
    assert "i2v_720p@1/api.json changed since it was released" in result.output
    # The edited graph no longer matches its UI file or its manifest default either.
    assert "ui.json and api.json describe different graphs" in result.output
    assert "default 40 differs from the graph's 30" in result.output


def test_lock_adds_new_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = tmp_path / "workflows"
    shutil.copytree(workflows_dir(), root)
    monkeypatch.setenv("WAN_WORKFLOWS_DIR", str(root))
    (root / "workflows.lock.json").unlink()
    result = runner.invoke(app, ["lock"])
    assert result.exit_code == 0, result.output
    released = json.loads((workflows_dir() / "workflows.lock.json").read_text(encoding="utf-8"))
    assert len(released) >= 10 and f"Locked: {', '.join(sorted(released))}\n" in result.output
    assert (root / "workflows.lock.json").read_text(encoding="utf-8") == (workflows_dir() / "workflows.lock.json").read_text(
        encoding="utf-8"
    )


def test_show_of_a_fast_workflow_marks_server_parameters_and_states_the_step_rule():
    result = runner.invoke(app, ["show", "i2v_480p_fast"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for name in ("filename_prefix", "diffusion_model", "distill_lora", "vae"):
        assert next(line for line in lines if line.startswith(name + " ")).split()[1] == "*", name
    assert next(line for line in lines if line.startswith("steps ")).split()[1] == "int"  # a client parameter
    assert "the API rejects them" in result.output
    width = next(line for line in lines if line.startswith("width "))
    assert "a multiple of 16 (16, 32, 48, ...)" in width and "16 plus" not in width  # the words the parameter check uses
    frames = next(line for line in lines if line.startswith("num_frames "))
    assert "1 plus a multiple of 4 (1, 5, 9, ...)" in frames
    assert "--set steps=30" not in result.output and "--set num_frames=49" in result.output
    assert "--set steps=30" in runner.invoke(app, ["show", "i2v_480p"]).output

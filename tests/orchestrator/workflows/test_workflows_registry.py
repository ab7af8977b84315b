"""The released workflows: lookup, official defaults, content hash, lock."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from orchestrator.workflows import WorkflowNotFoundError, get_workflow, list_workflows, update_lock, verify_lock, workflows_dir
from orchestrator.workflows.lock import read_lock


def test_released_workflows_are_listed():
    refs = [w.ref for w in list_workflows()]
    assert {"i2v_480p@1", "i2v_480p@2", "i2v_480p@3", "i2v_720p@1", "i2v_720p@2", "i2v_720p@3"} <= set(refs)
    assert workflows_dir() == Path(__file__).resolve().parents[3] / "workflows"


def test_lookup_by_name_and_version():
    assert get_workflow("i2v_480p").ref == get_workflow("i2v_480p@3").ref == get_workflow("i2v_480p", 3).ref  # the latest
    assert get_workflow("i2v_480p@1").ref == get_workflow("i2v_480p", 1).ref == "i2v_480p@1"
    with pytest.raises(WorkflowNotFoundError, match="Known workflows: .*i2v_480p"):
        get_workflow("i2v_1080p")
    with pytest.raises(WorkflowNotFoundError, match="has no version 99. Released versions: 1, 2"):
        get_workflow("i2v_480p@99")
    with pytest.raises(WorkflowNotFoundError, match="whole number"):
        get_workflow("i2v_480p@latest")


@pytest.mark.parametrize(("name", "resolution", "shift"), [("i2v_480p", "480p", 3.0), ("i2v_720p", "720p", 5.0)])
def test_official_defaults(name, resolution, shift):
    api = get_workflow(name).api
    by_class = {node["class_type"]: node["inputs"] for node in api.values()}
    sampler = by_class["WanI2VSampler"]
    assert (sampler["steps"], sampler["cfg"], sampler["shift"], sampler["scheduler"]) == (40, 5.0, shift, "unipc")
    assert by_class["WanI2VImageEncode"]["resolution"] == resolution
    assert by_class["WanI2VImageEncode"]["num_frames"] == 81
    assert by_class["WanI2VSaveVideo"]["fps"] == 16
    assert (by_class["WanI2VCache"]["cache"], by_class["WanI2VCache"]["threshold"]) == ("none", 0.0)
    assert by_class["WanI2VCompile"]["enabled"] is False
    assert by_class["WanI2VSageAttention"]["backend"] == "auto"
    assert by_class["WanI2VModelLoader"]["model_name"] == f"wan2.1_i2v_{resolution}_14B_bf16.safetensors"
    assert by_class["WanI2VTextEncoderLoader"]["model_name"] == "umt5_xxl_fp16.safetensors"
    assert by_class["WanI2VCLIPVisionLoader"]["model_name"] == "clip_vision_h.safetensors"
    assert by_class["WanI2VVAELoader"]["model_name"] == "wan_2.1_vae.safetensors"
    # loader -> attention -> cache -> compile -> sampler; no TeaCache settings input.
    chain, node = [], sampler
    while "model" in node:
        chain.append(api[node["model"][0]]["class_type"])
        node = api[node["model"][0]]["inputs"]
    assert chain == ["WanI2VCompile", "WanI2VCache", "WanI2VSageAttention", "WanI2VModelLoader"]
    assert "teacache" not in sampler


@pytest.mark.parametrize("name", ["i2v_480p", "i2v_720p"])
def test_version_1_is_kept_as_released(name):
    api = get_workflow(f"{name}@1").api
    by_class = {node["class_type"]: node["inputs"] for node in api.values()}
    assert by_class["WanI2VTeaCache"]["threshold"] == 0.0
    assert api[by_class["WanI2VSampler"]["teacache"][0]]["class_type"] == "WanI2VTeaCache"
    assert get_workflow(f"{name}@1").manifest.parameter("teacache_threshold").binds == (("4", "threshold"),)


def test_content_hash_is_stable_and_distinct():
    a, b = get_workflow("i2v_480p"), get_workflow("i2v_720p")
    assert len(a.content_hash) == 64
    assert a.content_hash == get_workflow("i2v_480p@3").content_hash != get_workflow("i2v_480p@2").content_hash
    assert a.content_hash != b.content_hash


def test_released_files_match_the_lock():
    assert verify_lock() == []
    assert set(read_lock()) == {w.ref for w in list_workflows()}


@pytest.fixture
def workflows_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "workflows"
    shutil.copytree(workflows_dir(), root)
    monkeypatch.setenv("WAN_WORKFLOWS_DIR", str(root))
    return root


def test_a_changed_released_file_is_reported(workflows_copy: Path):
    manifest = workflows_copy / "i2v_480p" / "1" / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["description"] += " (edited)"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    problems = verify_lock()
    assert len(problems) == 1
    assert "i2v_480p@1/manifest.json changed since it was released" in problems[0]
    assert update_lock() == []  # the lock never absorbs a change to a released version
    assert verify_lock() == problems


def test_a_new_version_must_be_locked(workflows_copy: Path):
    shutil.copytree(workflows_copy / "i2v_480p" / "3", workflows_copy / "i2v_480p" / "4")
    manifest = workflows_copy / "i2v_480p" / "4" / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('"version": 3', '"version": 4'), encoding="utf-8")
    assert verify_lock() == ["i2v_480p@4 is not in the lock; run `wan-i2v workflows lock` to release it."]
    assert get_workflow("i2v_480p").ref == "i2v_480p@4"  # latest
    assert update_lock(workflows_copy) == ["i2v_480p@4"]
    assert verify_lock() == []


def test_a_removed_version_is_reported(workflows_copy: Path):
    shutil.rmtree(workflows_copy / "i2v_720p")
    assert verify_lock() == [
        f"i2v_720p@{v} is in the lock but its folder is missing; released versions must stay." for v in (1, 2, 3)
    ]


@pytest.mark.parametrize("name", ["i2v_480p", "i2v_720p"])
def test_version_3_refuses_shift_zero_and_changes_nothing_else(name: str) -> None:
    old, new = get_workflow(f"{name}@2"), get_workflow(f"{name}@3")
    assert new.api == old.api and new.ui == old.ui
    assert old.manifest.parameter("shift").min == 0.0 and new.manifest.parameter("shift").min == 0.1
    assert [p.name for p in new.manifest.parameters] == [p.name for p in old.manifest.parameters]

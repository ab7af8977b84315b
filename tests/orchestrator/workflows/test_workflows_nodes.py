"""The released workflows against the real node classes: bounds, UI == API, example copies, validity."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
from PIL import Image

from comfy_nodes import NODE_CLASS_MAPPINGS, host
from orchestrator.executor import validate_prompt
from orchestrator.executor.graph import declared_inputs
from orchestrator.workflows import WorkflowFormatError, bind, get_workflow, list_workflows, ui_to_api
from orchestrator.workflows.check import check_binding, check_workflow

REPO = Path(__file__).resolve().parents[3]
WORKFLOWS = [w.ref for w in list_workflows()]
EXAMPLES = {"i2v_480p@3": "wan_i2v_480p.json", "i2v_720p@3": "wan_i2v_720p.json"}  # the latest releases


@pytest.mark.parametrize("ref", WORKFLOWS)
def test_manifest_bounds_lie_within_the_node_inputs(ref):
    workflow = get_workflow(ref)
    for parameter in workflow.manifest.parameters:
        for node_id, input_name in parameter.binds:
            node = workflow.api[node_id]
            spec = declared_inputs(NODE_CLASS_MAPPINGS[node["class_type"]])[input_name]
            if parameter.type in ("int", "float"):
                assert spec.type == parameter.type.upper()
                assert spec.options["min"] <= parameter.min <= parameter.default <= parameter.max <= spec.options["max"], (
                    parameter.name
                )
            if parameter.type == "enum":
                assert set(parameter.choices) <= set(spec.type), parameter.name
                assert parameter.default in parameter.choices
            assert node["inputs"][input_name] == parameter.default, parameter.name
            assert check_binding(parameter, node_id, input_name, workflow.api, NODE_CLASS_MAPPINGS) == []


def test_manifest_bounds_outside_the_node_are_caught():
    workflow = get_workflow("i2v_480p@1")
    steps = workflow.manifest.parameter("steps")
    loose = dataclasses.replace(steps, max=1000)
    assert check_binding(loose, "10", "steps", workflow.api, NODE_CLASS_MAPPINGS) == [
        "parameter 'steps' -> node 10 input 'steps': max 1000 is above the node's max 200."
    ]
    attention = workflow.manifest.parameter("attention")
    extra = dataclasses.replace(attention, choices=("auto", "flash"))
    problems = check_binding(extra, "3", "backend", workflow.api, NODE_CLASS_MAPPINGS)
    assert problems == [
        "parameter 'attention' -> node 3 input 'backend': "
        "choices ['flash'] are not accepted by the node (it accepts ['auto', 'sdpa', 'sage'])."
    ]


@pytest.mark.parametrize("ref", WORKFLOWS)
def test_ui_and_api_files_describe_the_same_graph(ref):
    workflow = get_workflow(ref)
    assert ui_to_api(workflow.ui, NODE_CLASS_MAPPINGS) == workflow.api
    sampler = next(n for n in workflow.ui["nodes"] if n["type"] == "WanI2VSampler")
    seed_at = sampler["widgets_values"].index(workflow.api["10"]["inputs"]["seed"])
    assert sampler["widgets_values"][seed_at + 1] == "fixed"  # the editor's control_after_generate value


@pytest.mark.parametrize(("ref", "example"), sorted(EXAMPLES.items()))
def test_example_workflows_are_the_released_ui_files(ref, example):
    released = (get_workflow(ref).path / "ui.json").read_bytes()
    assert (REPO / "comfy_nodes" / "example_workflows" / example).read_bytes() == released


@pytest.mark.parametrize("ref", WORKFLOWS)
def test_released_workflows_pass_the_full_check(ref):
    report = check_workflow(get_workflow(ref), NODE_CLASS_MAPPINGS)
    assert report.errors == []


def test_muted_nodes_are_dropped_and_bypassed_nodes_rejected():
    ui = copy.deepcopy(get_workflow("i2v_480p@1").ui)
    tea = next(n for n in ui["nodes"] if n["type"] == "WanI2VTeaCache")
    tea["mode"] = 2
    api = ui_to_api(ui, NODE_CLASS_MAPPINGS)
    assert str(tea["id"]) not in api
    assert "teacache" not in api["10"]["inputs"]  # its link went with it
    tea["mode"] = 4
    with pytest.raises(WorkflowFormatError, match="bypassed"):
        ui_to_api(ui, NODE_CLASS_MAPPINGS)


@pytest.fixture
def installed_files(tmp_path: Path):
    """Placeholder model files under the workflow's default names and a real input image."""
    saved_models, saved_io = host._models_dir, dict(host._io_dirs)
    workflow = get_workflow("i2v_480p@1")
    for parameter in workflow.manifest.parameters:
        if parameter.model_kind:
            path = tmp_path / "models" / parameter.model_kind / parameter.default
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
    host.set_models_dir(tmp_path / "models")
    host.set_io_dirs(input=tmp_path / "input")
    (tmp_path / "input").mkdir(exist_ok=True)
    Image.new("RGB", (32, 32), (200, 80, 40)).save(tmp_path / "input" / "start.png")
    yield tmp_path
    host._models_dir = saved_models
    host._io_dirs.clear()
    host._io_dirs.update(saved_io)


@pytest.mark.parametrize("ref", WORKFLOWS)
def test_bound_workflow_validates_when_its_files_exist(installed_files, ref):
    workflow = get_workflow(ref)
    for parameter in workflow.manifest.parameters:  # the files only this workflow names (720p model, LoRA)
        if parameter.model_kind:
            path = installed_files / "models" / parameter.model_kind / parameter.default
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    validated = validate_prompt(bind(workflow, {"seed": "7"}, image="start.png"), NODE_CLASS_MAPPINGS)
    assert validated.node_errors == {}
    assert validated.outputs == ["12"]
    assert validated.prompt["10"]["inputs"]["seed"] == 7


EXAMPLE_FILES = sorted((REPO / "comfy_nodes" / "example_workflows").glob("*.json"))
EXAMPLE_OF = {"wan_i2v_480p.json": "i2v_480p", "wan_i2v_720p.json": "i2v_720p",
              "wan_i2v_480p_fast.json": "i2v_480p_fast", "wan_i2v_720p_fast.json": "i2v_720p_fast"}  # fmt: skip


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_workflows_store_every_widget_and_no_node_covers_another(path):
    import json

    from orchestrator.workflows.ui_format import _editor_extras, _is_widget

    ui = json.loads(path.read_text(encoding="utf-8"))
    for node in ui["nodes"]:
        specs = declared_inputs(NODE_CLASS_MAPPINGS[node["type"]]).values()
        widgets = sum(1 + _editor_extras(s) for s in specs if s.category != "hidden" and _is_widget(s))
        # The editor fills widgets by position: a short list leaves the later ones at whatever it guesses.
        assert len(node.get("widgets_values") or []) == widgets, (path.name, node["type"])
    title = 30  # the editor draws the title bar above `pos`
    boxes = [(n["pos"][0], n["pos"][1] - title, n["pos"][0] + n["size"][0], n["pos"][1] + n["size"][1]) for n in ui["nodes"]]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (path.name, a, b)
    # The same graph as the workflow it stands for (inputs the file stores beyond the API file are the nodes' defaults).
    api = get_workflow(EXAMPLE_OF[path.name]).api
    for node_id, node in ui_to_api(ui, NODE_CLASS_MAPPINGS).items():
        released = api[node_id]
        assert node["class_type"] == released["class_type"]
        specs = declared_inputs(NODE_CLASS_MAPPINGS[node["class_type"]])
        for name, value in node["inputs"].items():
            assert value == released["inputs"].get(name, specs[name].options.get("default")), (path.name, node_id, name)

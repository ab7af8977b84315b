"""bind(): defaults, string conversion, and rejections that name the parameter and its bounds."""

from __future__ import annotations

import copy

import pytest

from orchestrator.workflows import WorkflowParameterError, bind, get_workflow, resolve_parameters
from orchestrator.workflows.manifest import parse_manifest


@pytest.fixture
def workflow():
    return get_workflow("i2v_480p@1")


def test_defaults_fill_everything_but_the_image(workflow):
    original = copy.deepcopy(workflow.api)
    prompt = bind(workflow, {}, image="start.png")
    expected = copy.deepcopy(original)
    expected["1"]["inputs"]["image"] = "start.png"
    assert prompt == expected
    prompt["10"]["inputs"]["steps"] = 1
    assert workflow.api == original  # a deep copy: the released graph is untouched


def test_strings_are_converted_by_type(workflow):
    prompt = bind(
        workflow,
        {"steps": "30", "cfg": "4.5", "seed": "123", "fps": "24", "num_frames": "33", "resolution": "custom", "width": 512},
        image="a.png",
    )
    sampler = prompt["10"]["inputs"]
    assert (sampler["steps"], sampler["cfg"], sampler["seed"]) == (30, 4.5, 123)
    assert prompt["12"]["inputs"]["fps"] == 24.0 and isinstance(prompt["12"]["inputs"]["fps"], float)
    assert prompt["9"]["inputs"]["num_frames"] == 33
    assert (prompt["9"]["inputs"]["resolution"], prompt["9"]["inputs"]["width"]) == ("custom", 512)


def test_model_files_can_be_pointed_elsewhere(workflow):
    prompt = bind(workflow, {"diffusion_model": "demo.safetensors", "vae": "demo_vae.safetensors"}, image="a.png")
    assert prompt["2"]["inputs"]["model_name"] == "demo.safetensors"
    assert prompt["7"]["inputs"]["model_name"] == "demo_vae.safetensors"


def test_unknown_parameter_is_named_with_the_known_ones(workflow):
    with pytest.raises(WorkflowParameterError) as info:
        bind(workflow, {"stpes": 30}, image="a.png")
    message = str(info.value)
    assert "Unknown parameter 'stpes' (did you mean 'steps'?) for workflow i2v_480p@1" in message
    assert "Known parameters: image, prompt, negative_prompt, seed, steps" in message


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"steps": 500}, "Parameter 'steps' must be at most 200, got 500 (allowed: 1..200)."),
        ({"steps": "0"}, "Parameter 'steps' must be at least 1, got 0 (allowed: 1..200)."),
        ({"steps": "many"}, "Parameter 'steps' must be an integer, got 'many'"),
        ({"steps": 2.5}, "Parameter 'steps' must be an integer, got 2.5"),
        ({"cfg": "strong"}, "Parameter 'cfg' must be a number, got 'strong' (allowed: 0.0..20.0)."),
        ({"cfg": "nan"}, "Parameter 'cfg' must be a finite number"),
        (
            {"num_frames": 80},
            "Parameter 'num_frames' must be 1 plus a multiple of 4 (e.g. 77 or 81), got 80 (allowed: 1..1001, step 4).",
        ),
        ({"width": 500}, "Parameter 'width' must be a multiple of 16 (e.g. 496 or 512)"),
        (
            {"scheduler": "ddim"},
            "Parameter 'scheduler' is not one of the allowed values, got 'ddim' (allowed: one of unipc, euler).",
        ),
        ({"prompt": 5}, "Parameter 'prompt' must be a string, got 5."),
        ({"teacache_threshold": 1.5}, "Parameter 'teacache_threshold' must be at most 1.0"),
    ],
)
def test_bad_values_are_rejected_with_bounds(workflow, params, fragment):
    with pytest.raises(WorkflowParameterError) as info:
        bind(workflow, params, image="a.png")
    assert fragment in str(info.value)


def test_image_given_twice_must_agree(workflow):
    assert bind(workflow, {"image": "a.png"}, image="a.png")["1"]["inputs"]["image"] == "a.png"
    assert bind(workflow, {"image": "b.png"})["1"]["inputs"]["image"] == "b.png"
    with pytest.raises(WorkflowParameterError, match="given twice"):
        bind(workflow, {"image": "b.png"}, image="a.png")


def test_bool_parameters_parse_words():
    manifest = parse_manifest(
        {
            "name": "t",
            "version": 1,
            "parameters": [{"name": "flag", "type": "bool", "default": False, "binds": [["1", "flag"]]}],
        }
    )
    flag = manifest.parameter("flag")
    assert flag.convert("yes") is True and flag.convert("false") is False and flag.convert(True) is True
    with pytest.raises(WorkflowParameterError, match="must be true or false"):
        flag.convert("perhaps")


def test_resolve_parameters_gives_every_value_converted(workflow):
    values = resolve_parameters(workflow, {"steps": "12", "attention": "sdpa"}, image="a.png")
    assert list(values) == workflow.manifest.names
    assert (values["steps"], values["attention"], values["image"], values["cfg"]) == (12, "sdpa", "a.png", 5.0)


def test_step_hint_stays_within_bounds():
    manifest = parse_manifest(
        {
            "name": "t",
            "version": 1,
            "parameters": [{"name": "n", "type": "int", "default": 1, "min": 1, "max": 12, "step": 4, "binds": [["1", "n"]]}],
        }
    )
    with pytest.raises(WorkflowParameterError, match=r"must be 1 plus a multiple of 4 \(e.g. 9\), got 10"):
        manifest.parameter("n").convert(10)


def test_seed_minus_one_draws_a_random_seed_and_reports_it():
    workflow = get_workflow("i2v_480p")
    drawn = {resolve_parameters(workflow, {"seed": -1})["seed"] for _ in range(5)}
    assert len(drawn) > 1 and all(0 <= seed < 2**53 for seed in drawn)
    prompt = bind(workflow, {"seed": "-1"}, image="cat.png")
    bound = next(node["inputs"]["seed"] for node in prompt.values() if "seed" in node.get("inputs", {}))
    assert bound >= 0  # the graph gets the drawn seed, never -1


def test_other_negative_seeds_are_refused_with_the_random_hint():
    with pytest.raises(WorkflowParameterError, match=r"-1 for a random seed"):
        resolve_parameters(get_workflow("i2v_480p"), {"seed": -2})

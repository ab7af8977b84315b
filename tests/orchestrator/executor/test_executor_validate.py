"""validate_prompt: ComfyUI's 400 shapes, conversions, and readable messages."""

from __future__ import annotations

import json

import pytest

from orchestrator.executor import PromptValidationError, validate_prompt


def settings_prompt(**inputs: object) -> dict:
    values = {"mode": "fast", "scale": 1.0, "flag": False, "label": "x"}
    values.update(inputs)
    return {"1": {"class_type": "Settings", "inputs": values}, "2": {"class_type": "Show", "inputs": {"value": ["1", 0]}}}


def only_error(exc: PromptValidationError, node_id: str) -> dict:
    errors = exc.node_errors[node_id]["errors"]
    assert len(errors) == 1, errors
    return errors[0]


def test_valid_prompt_converts_literals_and_keeps_outputs(fake):
    prompt = settings_prompt(scale="2.5", flag="true", label=7, items={"__value__": [1, 2]})
    validated = validate_prompt(prompt, fake.classes)
    assert validated.outputs == ["2"]
    assert validated.node_errors == {}
    assert validated.prompt["1"]["inputs"] == {"mode": "fast", "scale": 2.5, "flag": True, "label": "7", "items": [1, 2]}
    assert prompt["1"]["inputs"]["scale"] == "2.5"  # the caller's prompt is not modified


def test_int_string_and_float_round(fake):
    prompt = {
        "1": {"class_type": "Number", "inputs": {"value": "5"}},
        "2": {"class_type": "ShowInt", "inputs": {"value": ["1", 0]}},
        "3": {"class_type": "Settings", "inputs": {"mode": "slow", "scale": 1.23456, "flag": 0, "label": ""}},
        "4": {"class_type": "Show", "inputs": {"value": ["3", 0]}},
    }
    validated = validate_prompt(prompt, fake.classes)
    assert validated.prompt["1"]["inputs"]["value"] == 5
    assert validated.prompt["3"]["inputs"]["scale"] == 1.23
    assert validated.prompt["3"]["inputs"]["flag"] is False


@pytest.mark.parametrize("prompt", ["not a dict", ["a"], {"1": "node"}, {"1": {"inputs": {}}}])
def test_malformed_prompts_are_invalid_prompt(fake, prompt):
    with pytest.raises(PromptValidationError) as info:
        validate_prompt(prompt, fake.classes)
    assert info.value.error["type"] == "invalid_prompt"
    assert set(info.value.error) == {"type", "message", "details", "extra_info"}


def test_unknown_class_names_node_and_class(fake):
    with pytest.raises(PromptValidationError) as info:
        validate_prompt({"7": {"class_type": "NoSuchNode", "inputs": {}}}, fake.classes)
    error = info.value.error
    assert error["type"] == "invalid_prompt"
    assert "node 7" in error["message"] and "'NoSuchNode'" in error["message"]
    assert error["details"] == "Node ID '#7'"


def test_no_output_node(fake):
    with pytest.raises(PromptValidationError) as info:
        validate_prompt({"1": {"class_type": "Number", "inputs": {"value": 1}}}, fake.classes)
    assert info.value.error["type"] == "prompt_no_outputs"
    assert info.value.node_errors == {}


def test_required_input_missing(fake):
    prompt = {"1": {"class_type": "Add", "inputs": {"a": 1}}, "2": {"class_type": "ShowInt", "inputs": {"value": ["1", 0]}}}
    with pytest.raises(PromptValidationError) as info:
        validate_prompt(prompt, fake.classes)
    exc = info.value
    assert exc.error["type"] == "prompt_outputs_failed_validation"
    assert exc.node_errors["1"]["class_type"] == "Add"
    assert exc.node_errors["1"]["dependent_outputs"] == ["2"]
    assert "2" not in exc.node_errors  # downstream of a failure, but no error of its own
    error = only_error(exc, "1")
    assert error["type"] == "required_input_missing"
    assert error["extra_info"]["input_name"] == "b"
    assert "b on node 1 (Add)" in error["message"]
    assert error["message"] in exc.error["details"]
    json.dumps(exc.to_response())  # the 400 body must be JSON


@pytest.mark.parametrize(
    ("value", "type_", "fragment"),
    [
        (101, "value_bigger_than_max", "Value 101 bigger than max of 100: value on node 1 (Number). Use a value from 0 to 100."),
        (-1, "value_smaller_than_min", "Value -1 smaller than min of 0: value on node 1 (Number)."),
        ("lots", "invalid_input_type", "Failed to convert an input value to a INT value: value on node 1 (Number)"),
    ],
)
def test_int_bounds_and_conversion(fake, value, type_, fragment):
    prompt = {
        "1": {"class_type": "Number", "inputs": {"value": value}},
        "2": {"class_type": "ShowInt", "inputs": {"value": ["1", 0]}},
    }
    with pytest.raises(PromptValidationError) as info:
        validate_prompt(prompt, fake.classes)
    error = only_error(info.value, "1")
    assert error["type"] == type_
    assert fragment in error["message"]
    assert error["extra_info"]["input_name"] == "value"


def test_combo_not_in_list_lists_choices(fake):
    with pytest.raises(PromptValidationError) as info:
        validate_prompt(settings_prompt(mode="medium"), fake.classes)
    error = only_error(info.value, "1")
    assert error["type"] == "value_not_in_list"
    assert error["details"] == "mode: 'medium' not in ['fast', 'slow']"
    assert "Allowed values: ['fast', 'slow']" in error["message"]


@pytest.mark.parametrize(("field", "value"), [("flag", "maybe"), ("scale", "wide")])
def test_boolean_and_float_conversion_errors(fake, field, value):
    with pytest.raises(PromptValidationError) as info:
        validate_prompt(settings_prompt(**{field: value}), fake.classes)
    error = only_error(info.value, "1")
    assert error["type"] == "invalid_input_type"
    assert error["extra_info"]["received_value"] == value


@pytest.mark.parametrize(
    ("link", "fragment"),
    [
        (["1"], "must be a length-2 list"),
        (["9", 0], "links to node 9, which is not in the prompt"),
        (["1", 3], "output index 3 out of range"),
        (["1", "0"], "must be a length-2 list"),
    ],
)
def test_bad_linked_input(fake, link, fragment):
    prompt = {"1": {"class_type": "Number", "inputs": {"value": 1}}, "2": {"class_type": "ShowInt", "inputs": {"value": link}}}
    with pytest.raises(PromptValidationError) as info:
        validate_prompt(prompt, fake.classes)
    error = only_error(info.value, "2")
    assert error["type"] == "bad_linked_input"
    assert fragment in error["message"]


def test_return_type_mismatch_and_star_matches_anything(fake):
    prompt = settings_prompt()
    prompt["3"] = {"class_type": "ShowInt", "inputs": {"value": ["1", 0]}}  # SETTINGS into INT
    validated = validate_prompt(prompt, fake.classes)  # node 2 (Show, "*") still passes
    assert validated.outputs == ["2"]
    error = validated.node_errors["3"]["errors"][0]
    assert error["type"] == "return_type_mismatch"
    assert "expects INT but output 0 of node 1 (Settings) is SETTINGS" in error["message"]
    assert error["extra_info"]["received_type"] == "SETTINGS"


def test_literal_given_where_a_link_is_required(fake):
    prompt = {
        "1": {"class_type": "AnyType", "inputs": {"thing": 3}},
        "2": {"class_type": "ShowInt", "inputs": {"value": ["1", 0]}},
    }
    with pytest.raises(PromptValidationError) as info:
        validate_prompt(prompt, fake.classes)
    assert only_error(info.value, "1")["type"] == "invalid_input_type"


def test_custom_validation_failed_and_exception(fake):
    def prompt(value: int) -> dict:
        return {
            "1": {"class_type": "Odd", "inputs": {"value": value}},
            "2": {"class_type": "ShowInt", "inputs": {"value": ["1", 0]}},
        }

    assert validate_prompt(prompt(3), fake.classes).outputs == ["2"]
    with pytest.raises(PromptValidationError) as info:
        validate_prompt(prompt(4), fake.classes)
    error = only_error(info.value, "1")
    assert error["type"] == "custom_validation_failed"
    assert error["details"] == "value - value must be odd, got 4"
    assert "node 1 (Odd)" in error["message"]
    # VALIDATE_INPUTS declares `value`, so ComfyUI leaves its range to the node (99 > max 10).
    with pytest.raises(PromptValidationError) as info:
        validate_prompt(prompt(99), fake.classes)
    error = only_error(info.value, "1")
    assert error["type"] == "exception_during_validation"
    assert "validator crashed" in error["message"]


def test_input_types_gets_linked_types(fake):
    good = {
        "1": {"class_type": "Number", "inputs": {"value": 2}},
        "2": {"class_type": "AnyType", "inputs": {"thing": ["1", 0]}},
        "3": {"class_type": "ShowInt", "inputs": {"value": ["2", 0]}},
    }
    assert validate_prompt(good, fake.classes).outputs == ["3"]
    bad = dict(good, **{"1": {"class_type": "Settings", "inputs": {"mode": "fast", "scale": 1, "flag": True, "label": ""}}})
    with pytest.raises(PromptValidationError) as info:
        validate_prompt(bad, fake.classes)
    assert "thing must be INT or FLOAT, got SETTINGS" in only_error(info.value, "2")["message"]


def test_cycle_is_reported_on_its_nodes(fake):
    prompt = {
        "1": {"class_type": "Add", "inputs": {"a": ["2", 0], "b": 1}},
        "2": {"class_type": "Add", "inputs": {"a": ["1", 0], "b": 1}},
        "3": {"class_type": "ShowInt", "inputs": {"value": ["2", 0]}},
    }
    with pytest.raises(PromptValidationError) as info:
        validate_prompt(prompt, fake.classes)
    exc = info.value
    assert set(exc.node_errors) == {"1", "2"}
    error = only_error(exc, "1")
    assert error["type"] == "dependency_cycle"
    assert "1 -> 2 -> 1" in error["message"]


def test_partial_outputs_accepted_with_node_errors(fake):
    prompt = {
        "1": {"class_type": "Number", "inputs": {"value": 500}},
        "2": {"class_type": "ShowInt", "inputs": {"value": ["1", 0]}},
        "3": {"class_type": "Number", "inputs": {"value": 5}},
        "4": {"class_type": "ShowInt", "inputs": {"value": ["3", 0]}},
    }
    validated = validate_prompt(prompt, fake.classes)
    assert validated.outputs == ["4"]
    assert validated.node_errors["1"]["dependent_outputs"] == ["2"]
    assert validated.node_errors["1"]["errors"][0]["type"] == "value_bigger_than_max"


def test_unreachable_nodes_are_not_validated_and_targets_limit_outputs(fake):
    prompt = {
        "1": {"class_type": "Number", "inputs": {"value": 500}},  # feeds no output: ignored
        "3": {"class_type": "Number", "inputs": {"value": 5}},
        "4": {"class_type": "ShowInt", "inputs": {"value": ["3", 0]}},
        "5": {"class_type": "ShowInt", "inputs": {"value": ["3", 0]}},
    }
    assert validate_prompt(prompt, fake.classes).outputs == ["4", "5"]
    assert validate_prompt(prompt, fake.classes, targets=["5"]).outputs == ["5"]


def test_integer_ids_and_links_are_normalised(fake):
    prompt = {1: {"class_type": "Number", "inputs": {"value": 2}}, 2: {"class_type": "ShowInt", "inputs": {"value": [1, 0]}}}
    validated = validate_prompt(prompt, fake.classes)
    assert validated.prompt["2"]["inputs"]["value"] == ["1", 0]


def test_cycle_path_follows_the_links(fake):
    prompt = {
        "1": {"class_type": "Add", "inputs": {"a": ["3", 0], "b": 1}},
        "2": {"class_type": "Add", "inputs": {"a": ["1", 0], "b": 1}},
        "3": {"class_type": "Add", "inputs": {"a": ["2", 0], "b": 1}},
        "4": {"class_type": "Add", "inputs": {"a": ["4", 0], "b": 1}},
        "5": {"class_type": "ShowInt", "inputs": {"value": ["3", 0]}},
        "6": {"class_type": "ShowInt", "inputs": {"value": ["4", 0]}},
    }
    with pytest.raises(PromptValidationError) as info:
        validate_prompt(prompt, fake.classes)
    errors = info.value.node_errors
    assert only_error(info.value, "1")["details"] == "1 -> 3 -> 2 -> 1"
    assert only_error(info.value, "4")["details"] == "4 -> 4"
    assert errors["2"]["dependent_outputs"] == ["5"]
    assert errors["4"]["dependent_outputs"] == ["6"]

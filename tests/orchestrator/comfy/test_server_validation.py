"""POST /prompt rejects bad prompts before queueing, with ComfyUI's 400 shape."""

from __future__ import annotations

from typing import Any

import pytest
import server_protocol_checks as checks
from comfy_protocol_client import ComfyClient


def _rejected(client: ComfyClient, response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error", "node_errors"}
    assert set(body["error"]) == {"type", "message", "details", "extra_info"}
    return body


def _node_error(body: dict[str, Any], node_id: str) -> dict[str, Any]:
    assert body["error"]["type"] == "prompt_outputs_failed_validation"
    entry = body["node_errors"][node_id]
    assert set(entry) == {"errors", "dependent_outputs", "class_type"}
    assert entry["dependent_outputs"] == ["3"]
    return entry["errors"][0]


@pytest.fixture
def idle(client: ComfyClient) -> ComfyClient:
    """The client, with the server idle and an empty history."""
    assert client.post("/history", {"clear": True}).status_code == 200
    assert client.get("/prompt").json()["exec_info"]["queue_remaining"] == 0
    return client


def _nothing_queued(client: ComfyClient) -> None:
    assert client.queue() == {"queue_running": [], "queue_pending": []}
    assert client.history() == {}
    assert not [
        f for f in client.frames if f["type"] == "status" and f["data"]["status"]["exec_info"]["queue_remaining"]
    ]


def test_shared_validation_checks(idle: ComfyClient) -> None:
    checks.check_validation_rejects(idle)
    _nothing_queued(idle)


@pytest.mark.parametrize("body", [b"{not json", b"", b"[1, 2"])
def test_invalid_json(idle: ComfyClient, body: bytes) -> None:
    response = idle.post("/prompt", data=body, headers={"Content-Type": "application/json"})
    error = _rejected(idle, response)["error"]
    assert error["type"] == "invalid_prompt" and "not valid JSON" in error["message"]
    _nothing_queued(idle)


def test_body_that_is_not_an_object(idle: ComfyClient) -> None:
    error = _rejected(idle, idle.post("/prompt", [1, 2]))["error"]
    assert "JSON object" in error["message"]


def test_prompt_that_is_not_an_object(idle: ComfyClient) -> None:
    assert _rejected(idle, idle.post_prompt("text"))["error"]["type"] == "invalid_prompt"


def test_missing_class_type_names_the_node(idle: ComfyClient) -> None:
    prompt = checks.chain(1)
    del prompt["1"]["class_type"]
    error = _rejected(idle, idle.post_prompt(prompt))["error"]
    assert error["type"] == "invalid_prompt" and "node 1" in error["message"] and "class_type" in error["message"]


def test_unknown_node_names_the_class(idle: ComfyClient) -> None:
    prompt = checks.chain(1)
    prompt["2"]["class_type"] = "NoSuchNode"
    error = _rejected(idle, idle.post_prompt(prompt))["error"]
    assert error["type"] == "invalid_prompt" and "NoSuchNode" in error["message"]
    _nothing_queued(idle)


def test_link_to_missing_node(idle: ComfyClient) -> None:
    prompt = checks.chain(1)
    prompt["2"]["inputs"]["value"] = ["99", 0]
    error = _node_error(_rejected(idle, idle.post_prompt(prompt)), "2")
    assert error["type"] == "bad_linked_input" and error["extra_info"]["input_name"] == "value"


def test_link_to_missing_slot(idle: ComfyClient) -> None:
    prompt = checks.chain(1)
    prompt["2"]["inputs"]["value"] = ["1", 3]
    error = _node_error(_rejected(idle, idle.post_prompt(prompt)), "2")
    assert error["type"] == "bad_linked_input" and error["extra_info"]["input_name"] == "value"


def test_link_of_the_wrong_type(idle: ComfyClient) -> None:
    prompt = checks.chain(1)
    prompt["4"] = {"class_type": "ProtoText", "inputs": {"text": "hello"}}
    prompt["2"]["inputs"]["value"] = ["4", 0]
    error = _node_error(_rejected(idle, idle.post_prompt(prompt)), "2")
    assert error["type"] == "return_type_mismatch" and error["extra_info"]["input_name"] == "value"
    assert "STRING" in error["details"] and "INT" in error["details"]


@pytest.mark.parametrize(
    ("node", "name", "value", "kind"),
    [
        ("1", "value", 5000, "value_bigger_than_max"),
        ("1", "value", -1, "value_smaller_than_min"),
        ("2", "steps", 0, "value_smaller_than_min"),
        ("2", "delay", "soon", "invalid_input_type"),
        ("2", "mode", "double", "value_not_in_list"),
    ],
)
def test_bad_values_name_the_node_and_input(idle: ComfyClient, node: str, name: str, value: Any, kind: str) -> None:
    prompt = checks.chain(1)
    prompt[node]["inputs"][name] = value
    body = _rejected(idle, idle.post_prompt(prompt))
    error = _node_error(body, node)
    assert error["type"] == kind and error["extra_info"]["input_name"] == name
    assert body["node_errors"][node]["class_type"] == prompt[node]["class_type"]
    _nothing_queued(idle)


def test_missing_required_input(idle: ComfyClient) -> None:
    prompt = checks.chain(1)
    del prompt["2"]["inputs"]["steps"]
    error = _node_error(_rejected(idle, idle.post_prompt(prompt)), "2")
    assert error["type"] == "required_input_missing" and error["extra_info"]["input_name"] == "steps"


def test_one_failing_output_of_two_is_dropped(idle: ComfyClient) -> None:
    prompt = checks.chain(checks.unique_value())
    prompt["4"] = {"class_type": "ProtoSave", "inputs": {"value": ["5", 0], "filename_prefix": "proto/dropped"}}
    prompt["5"] = {"class_type": "ProtoNumber", "inputs": {"value": 5000}}
    answer = idle.post_prompt(prompt)
    assert answer.status_code == 200
    body = answer.json()
    assert body["node_errors"]["5"]["dependent_outputs"] == ["4"]
    idle.wait_done(body["prompt_id"])
    assert list(idle.history(body["prompt_id"])[body["prompt_id"]]["outputs"]) == ["3"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("extra_data", [1]), ("partial_execution_targets", "3"), ("number", "soon"), ("number", "nan")],
)
def test_malformed_request_fields(idle: ComfyClient, field: str, value: Any) -> None:
    error = _rejected(idle, idle.post_prompt(checks.chain(1), **{field: value}))["error"]
    assert error["type"] == "invalid_prompt" and field.split("_")[0] in error["message"]
    _nothing_queued(idle)


@pytest.mark.parametrize("path", ["/queue", "/history"])
def test_other_posts_refuse_invalid_json(idle: ComfyClient, path: str) -> None:
    response = idle.post(path, data=b"{oops", headers={"Content-Type": "application/json"})
    assert _rejected(idle, response)["error"]["type"] == "invalid_prompt"
    assert _rejected(idle, idle.post(path, {"delete": "abc"}))["error"]["type"] == "invalid_request"

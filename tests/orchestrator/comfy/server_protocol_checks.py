"""Protocol checks shared by the embedded-server tests and the real-ComfyUI test.

Each check drives a server through `ComfyClient` with the nodes of
`server_protocol_nodes` and asserts what ComfyUI does. Values are made unique
per call so the server's output cache never hides a run.
"""

from __future__ import annotations

import io
import itertools
import time
from typing import Any

from comfy_protocol_client import ComfyClient, Frame
from PIL import Image
from server_protocol_nodes import payload

_values = itertools.count(1)
LONG_STEPS = 2000
LONG_DELAY = 0.01  # a long run lasts 20 s at most; the checks interrupt it early


def unique_value() -> int:
    """A fresh input value (0..1000) so nothing is served from the cache."""
    return (next(_values) * 7 + int(time.time() * 1000)) % 1000


def chain(
    value: int, *, steps: int = 2, delay: float = 0.0, prefix: str = "proto/out", fail: bool = False
) -> dict[str, Any]:
    """number -> ticker (or a failing node) -> save."""
    middle = (
        {"class_type": "ProtoFail", "inputs": {"value": ["1", 0]}}
        if fail
        else {
            "class_type": "ProtoTicker",
            "inputs": {"value": ["1", 0], "steps": steps, "delay": delay},
        }
    )
    return {
        "1": {"class_type": "ProtoNumber", "inputs": {"value": value}},
        "2": middle,
        "3": {"class_type": "ProtoSave", "inputs": {"value": ["2", 0], "filename_prefix": prefix}},
    }


def sequence(frames: list[Frame]) -> list[tuple[str, Any]]:
    """(type, node) of every frame except `status`."""
    return [(f["type"], f["data"].get("node")) for f in frames if f["type"] != "status"]


def fresh_chain_sequence(steps: int) -> list[tuple[str, Any]]:
    """ComfyUI's frame order for an uncached number -> ticker -> save run."""
    return (
        [("execution_start", None), ("execution_cached", None)]
        + [("progress_state", None), ("executing", "1"), ("progress_state", None)]
        + [("progress_state", None), ("executing", "2")]
        + [("progress_state", None), ("progress", "2")] * steps
        + [("progress_state", None)]
        + [("progress_state", None), ("executing", "3"), ("executed", "3"), ("progress_state", None)]
        + [("execution_success", None), ("executing", None)]
    )


def _index(frames: list[Frame], type_: str) -> int:
    return next(i for i, f in enumerate(frames) if f["type"] == type_)


def _check_status_around(frames: list[Frame], end_type: str) -> None:
    """A status (queued) comes before execution_start; a status (done) between the end event and the final executing."""
    start, end = _index(frames, "execution_start"), _index(frames, end_type)
    assert any(
        f["type"] == "status" and f["data"]["status"]["exec_info"]["queue_remaining"] >= 1 for f in frames[:start]
    )
    assert any(f["type"] == "status" for f in frames[end:-1]), "no status frame after the prompt ended"
    assert frames[-1]["type"] == "executing" and frames[-1]["data"]["node"] is None


def check_success_run(client: ComfyClient, steps: int = 2) -> tuple[str, int, dict[str, Any]]:
    """Frame order, frame fields and the history entry of a successful run.
    Returns (prompt_id, the value the save node wrote, history entry)."""
    value = unique_value()
    prompt = chain(value, steps=steps, prefix=f"proto/ok{value}")
    prompt_id, frames = client.run(prompt, extra_data={"extra_pnginfo": {"workflow": {"id": "w1"}}})
    assert sequence(frames) == fresh_chain_sequence(steps)
    _check_status_around(frames, "execution_success")
    for frame in frames:
        if frame["type"] != "status":
            assert frame["data"]["prompt_id"] == prompt_id
    start = frames[_index(frames, "execution_start")]["data"]
    assert isinstance(start["timestamp"], int)
    assert frames[_index(frames, "execution_cached")]["data"]["nodes"] == []
    executing = [f["data"] for f in frames if f["type"] == "executing" and f["data"]["node"]]
    assert all(d["display_node"] == d["node"] for d in executing)
    progress = [f["data"] for f in frames if f["type"] == "progress"]
    assert [(p["value"], p["max"]) for p in progress] == [(i, steps) for i in range(1, steps + 1)]
    states = [f["data"]["nodes"] for f in frames if f["type"] == "progress_state"]
    assert {k: v["state"] for k, v in states[0].items()} == {"1": "running"}
    assert {k: v["state"] for k, v in states[-1].items()} == {"1": "finished", "2": "finished", "3": "finished"}
    assert set(states[-1]["2"]) >= {
        "value",
        "max",
        "state",
        "node_id",
        "prompt_id",
        "display_node_id",
        "parent_node_id",
        "real_node_id",
    }
    executed = frames[_index(frames, "executed")]["data"]
    output = executed["output"]
    assert output["animated"] == [True]
    assert output["images"] == [{"filename": output["images"][0]["filename"], "subfolder": "proto", "type": "output"}]
    assert output["images"][0]["filename"].startswith(f"ok{value}_")

    entry = client.history(prompt_id)[prompt_id]
    number, pid, queued_prompt, extra_data, outputs_to_execute = entry["prompt"]
    assert pid == prompt_id and queued_prompt == prompt and outputs_to_execute == ["3"]
    assert extra_data["client_id"] == client.client_id and isinstance(extra_data["create_time"], int)
    assert extra_data["extra_pnginfo"] == {"workflow": {"id": "w1"}}
    assert entry["outputs"] == {"3": output}
    assert entry["status"]["status_str"] == "success" and entry["status"]["completed"] is True
    events = [m[0] for m in entry["status"]["messages"]]
    assert events == ["execution_start", "execution_cached", "execution_success"]
    assert all(isinstance(m[1]["timestamp"], int) for m in entry["status"]["messages"])
    assert entry["meta"]["3"] == {"node_id": "3", "display_node": "3", "parent_node": None, "real_node_id": "3"}
    return prompt_id, value + 1, entry


def check_cached_rerun(client: ComfyClient) -> None:
    """Re-submitting an identical prompt serves every node from the cache and points at the old file."""
    value = unique_value()
    prompt = chain(value, prefix=f"proto/cache{value}")
    first_id, _ = client.run(prompt)
    first_outputs = client.history(first_id)[first_id]["outputs"]
    second_id, frames = client.run(prompt)
    assert second_id != first_id
    cached = frames[_index(frames, "execution_cached")]["data"]["nodes"]
    assert sorted(cached) == ["1", "2", "3"]
    assert not [f for f in frames if f["type"] == "executing" and f["data"]["node"] is not None]
    assert not [f for f in frames if f["type"] == "progress"]
    executed = [f["data"] for f in frames if f["type"] == "executed"]
    assert [(e["node"], e["output"]) for e in executed] == [("3", first_outputs["3"])]
    assert sequence(frames)[-2:] == [("execution_success", None), ("executing", None)]
    entry = client.history(second_id)[second_id]
    assert entry["outputs"] == first_outputs and entry["status"]["completed"] is True


def check_error_run(client: ComfyClient) -> None:
    """A node that raises: execution_error with ComfyUI's fields, an error history entry."""
    value = unique_value()
    prompt_id, frames = client.run(chain(value, fail=True, prefix=f"proto/err{value}"))
    assert sequence(frames) == [
        ("execution_start", None),
        ("execution_cached", None),
        ("progress_state", None),
        ("executing", "1"),
        ("progress_state", None),
        ("progress_state", None),
        ("executing", "2"),
        ("execution_error", None),
        ("executing", None),
    ]
    _check_status_around(frames, "execution_error")
    error = frames[_index(frames, "execution_error")]["data"]
    assert error["prompt_id"] == prompt_id and error["node_id"] == "2" and error["node_type"] == "ProtoFail"
    assert error["exception_type"] == "ValueError"
    assert f"deliberate failure for value {value}" in error["exception_message"]
    assert isinstance(error["traceback"], list) and error["traceback"]
    assert "1" in error["executed"] and "value" in error["current_inputs"]
    assert isinstance(error["current_outputs"], list) and isinstance(error["timestamp"], int)
    entry = client.history(prompt_id)[prompt_id]
    assert entry["status"]["status_str"] == "error" and entry["status"]["completed"] is False
    assert [m[0] for m in entry["status"]["messages"]] == ["execution_start", "execution_cached", "execution_error"]
    assert entry["outputs"] == {}


def start_long_run(client: ComfyClient, prefix: str = "proto/long") -> str:
    """Submit a slow prompt and return its id once its ticker is running."""
    value = unique_value()
    prompt_id = client.submit(chain(value, steps=LONG_STEPS, delay=LONG_DELAY, prefix=f"{prefix}{value}"))["prompt_id"]
    client.wait_for(lambda f: f["type"] == "progress" and f["data"]["prompt_id"] == prompt_id)
    return prompt_id


def _check_interrupted(client: ComfyClient, bystander: ComfyClient, prompt_id: str) -> None:
    frames = client.wait_done(prompt_id)
    interrupted = [f["data"] for f in frames if f["type"] == "execution_interrupted"]
    assert len(interrupted) == 1
    data = interrupted[0]
    assert data["prompt_id"] == prompt_id and data["node_id"] == "2" and data["node_type"] == "ProtoTicker"
    assert "1" in data["executed"] and isinstance(data["timestamp"], int)
    assert not [f for f in frames if f["type"] in ("execution_success", "executed")]
    ticks = [f["data"]["value"] for f in client.frames if f["type"] == "progress" and f["data"]["prompt_id"] == prompt_id]
    assert ticks and max(ticks) < LONG_STEPS
    # With a client id it is addressed to that client only (ComfyUI broadcasts it only for anonymous prompts).
    bystander.wait_for(lambda f: f["type"] == "status" and f["data"]["status"]["exec_info"]["queue_remaining"] == 0)
    assert not [f for f in bystander.frames if isinstance(f["data"], dict) and f["data"].get("prompt_id") == prompt_id]
    entry = client.history(prompt_id)[prompt_id]
    assert entry["status"]["status_str"] == "error" and entry["status"]["completed"] is False
    assert [m[0] for m in entry["status"]["messages"]][-1] == "execution_interrupted"


def check_interrupt_by_id(client: ComfyClient, bystander: ComfyClient) -> None:
    """An interrupt naming another prompt does nothing; naming the running one stops it within a tick."""
    prompt_id = start_long_run(client)
    assert client.interrupt("not-the-running-prompt").status_code == 200
    # Still running: more ticks arrive after the ignored interrupt.
    seen = client.wait_for(lambda f: f["type"] == "progress" and f["data"]["prompt_id"] == prompt_id)["data"]["value"]
    client.wait_for(lambda f: f["type"] == "progress" and f["data"]["value"] > seen + 2)
    assert client.interrupt(prompt_id).status_code == 200
    _check_interrupted(client, bystander, prompt_id)


def check_global_interrupt(client: ComfyClient, bystander: ComfyClient) -> None:
    """POST /interrupt with no body stops the running prompt; an idle interrupt does not touch the next prompt."""
    prompt_id = start_long_run(client)
    assert client.post("/interrupt").status_code == 200
    _check_interrupted(client, bystander, prompt_id)
    assert client.post("/interrupt").status_code == 200  # idle: the flag is cleared when the next prompt starts
    check_success_run(client)


def check_queue_order_and_delete(client: ComfyClient) -> None:
    """Pending prompts run by `number`; `front` jumps the queue; a deleted prompt leaves no trace."""
    blocker = start_long_run(client, "proto/block")
    ids: dict[str, str] = {}
    numbers: dict[str, float] = {}
    for name, fields in (("a", {}), ("b", {"front": True}), ("c", {"number": -1000}), ("d", {})):
        value = unique_value()
        answer = client.submit(chain(value, prefix=f"proto/q{name}{value}"), **fields)
        ids[name], numbers[name] = answer["prompt_id"], answer["number"]
        assert answer["node_errors"] == {}
    assert numbers["c"] == -1000 and numbers["b"] < 0 < numbers["a"] < numbers["d"]

    queue = client.queue()
    assert [item[1] for item in queue["queue_running"]] == [blocker]
    pending = sorted(queue["queue_pending"], key=lambda item: item[0])
    assert [item[1] for item in pending] == [ids["c"], ids["b"], ids["a"], ids["d"]]
    assert all(len(item) == 5 and item[4] == ["3"] for item in pending)
    assert client.get("/prompt").json() == {"exec_info": {"queue_remaining": 5}}

    assert client.post("/queue", {"delete": [ids["d"], blocker]}).status_code == 200  # the running one stays
    queue = client.queue()
    assert [item[1] for item in queue["queue_running"]] == [blocker]
    assert sorted(item[1] for item in queue["queue_pending"]) == sorted([ids["a"], ids["b"], ids["c"]])

    client.interrupt(blocker)
    client.wait_done(blocker)
    for name in ("c", "b", "a"):
        client.wait_done(ids[name])
    started = [f["data"]["prompt_id"] for f in client.frames if f["type"] == "execution_start"]
    assert started[-4:] == [blocker, ids["c"], ids["b"], ids["a"]]
    assert client.history(ids["d"]) == {}
    assert ids["d"] not in started


def check_queue_clear(client: ComfyClient) -> None:
    """Clearing drops pending prompts only; they never run and leave no history."""
    blocker = start_long_run(client, "proto/clear")
    pending = [client.submit(chain(unique_value(), prefix="proto/cleared"))["prompt_id"] for _ in range(2)]
    assert client.post("/queue", {"clear": True}).status_code == 200
    queue = client.queue()
    assert queue["queue_pending"] == [] and [item[1] for item in queue["queue_running"]] == [blocker]
    client.interrupt()
    client.wait_done(blocker)
    assert client.get("/prompt").json()["exec_info"]["queue_remaining"] == 0
    for prompt_id in pending:
        assert client.history(prompt_id) == {}


def check_without_client_id(client: ComfyClient) -> None:
    """Without client_id only `status` frames are sent; the prompt still runs and lands in history."""
    value = unique_value()
    response = client.post_prompt(chain(value, prefix=f"proto/anon{value}"), with_client_id=False)
    assert response.status_code == 200
    prompt_id = response.json()["prompt_id"]
    deadline = time.monotonic() + 30
    while not client.history(prompt_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    entry = client.history(prompt_id)[prompt_id]
    assert entry["status"]["completed"] is True and "client_id" not in entry["prompt"][3]
    # Our socket saw broadcasts only: status, and progress/progress_state (unaddressed without a client id).
    client.wait_for(
        lambda f: f["type"] == "status" and f["data"]["status"]["exec_info"]["queue_remaining"] == 0, timeout=10
    )
    about = {
        f["type"] for f in client.frames if isinstance(f["data"], dict) and f["data"].get("prompt_id") == prompt_id
    }
    assert about <= {"progress_state", "progress"}, about


def check_view(client: ComfyClient, entry: dict[str, Any], value: int) -> None:
    """/view serves the file ProtoSave wrote for `value`, with Range support and ComfyUI's path checks."""
    image = next(iter(entry["outputs"].values()))["images"][0]
    expected = payload(value)
    response = client.view(image["filename"], image["subfolder"], image["type"])
    assert response.status_code == 200 and response.content == expected
    assert f'filename="{image["filename"]}"' in response.headers["Content-Disposition"]
    partial = client.view(image["filename"], image["subfolder"], headers={"Range": "bytes=100-1123"})
    assert partial.status_code == 206 and partial.content == expected[100:1124]
    assert partial.headers["Content-Range"] == f"bytes 100-1123/{len(expected)}"
    annotated = client.get(
        "/view", params={"filename": image["filename"] + " [output]", "subfolder": image["subfolder"], "type": "input"}
    )
    assert annotated.status_code == 200 and annotated.content == expected
    assert client.view("no-such-file.mp4", image["subfolder"]).status_code == 404
    assert client.view("../" + image["filename"], image["subfolder"]).status_code == 400
    assert client.view("/etc/passwd").status_code == 400
    assert client.view(image["filename"], "../../..").status_code == 403


def png_bytes(color: tuple[int, int, int], size: tuple[int, int] = (8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def check_upload_names(client: ComfyClient) -> None:
    """Same bytes reuse the name; different bytes get ' (1)'; overwrite replaces."""
    name = f"up{unique_value()}_{time.time_ns()}.png"
    red, blue, green = png_bytes((255, 0, 0)), png_bytes((0, 0, 255)), png_bytes((0, 255, 0))
    first = client.upload(name, red)
    assert first.status_code == 200 and first.json() == {"name": name, "subfolder": "", "type": "input"}
    assert client.upload(name, red).json()["name"] == name
    renamed = client.upload(name, blue).json()["name"]
    assert renamed == name.replace(".png", " (1).png")
    assert client.upload(name, blue).json()["name"] == renamed  # identical to the renamed copy
    assert client.upload(name, green, overwrite="true").json()["name"] == name
    assert client.view(name, type_="input").content == green
    assert client.view(renamed, type_="input").content == blue
    nested = client.upload(name, red, subfolder="sub/dir", type="temp")
    assert nested.status_code == 200 and nested.json() == {"name": name, "subfolder": "sub/dir", "type": "temp"}
    assert client.view(name, "sub/dir", "temp").content == red


def check_validation_rejects(client: ComfyClient) -> None:
    """Prompts that fail validation get a 400 in ComfyUI's shape and nothing is queued."""
    before = client.get("/prompt").json()["exec_info"]["queue_remaining"]
    bad_prompts = {
        "unknown class": {"1": {"class_type": "NoSuchNode", "inputs": {}}},
        "missing class_type": {"1": {"inputs": {"value": 1}}, "2": chain(1)["3"]},
        "too big": chain(5000),
        "no outputs": {"1": {"class_type": "ProtoNumber", "inputs": {"value": 1}}},
    }
    for label, prompt in bad_prompts.items():
        response = client.post_prompt(prompt)
        assert response.status_code == 400, label
        body = response.json()
        assert set(body) == {"error", "node_errors"}, label
        assert set(body["error"]) >= {"type", "message", "details", "extra_info"}, label
    response = client.post_prompt(chain(5000)).json()
    assert response["error"]["type"] == "prompt_outputs_failed_validation"
    (error,) = response["node_errors"]["1"]["errors"]
    assert error["type"] == "value_bigger_than_max" and error["extra_info"]["input_name"] == "value"
    assert response["node_errors"]["1"]["class_type"] == "ProtoNumber"
    assert response["node_errors"]["1"]["dependent_outputs"] == ["3"]
    assert client.post_prompt(bad_prompts["unknown class"]).json()["error"]["type"] == "invalid_prompt"
    assert client.post_prompt(bad_prompts["no outputs"]).json()["error"]["type"] == "prompt_no_outputs"
    no_prompt = client.post("/prompt", {"client_id": client.client_id})
    assert no_prompt.status_code == 400 and no_prompt.json()["error"]["type"] == "no_prompt"
    assert client.get("/prompt").json()["exec_info"]["queue_remaining"] == before

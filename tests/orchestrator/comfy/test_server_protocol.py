"""The embedded server against ComfyUI's protocol: frames, their order, history, interrupts."""

from __future__ import annotations

import json

import pytest
import requests
import websocket
import server_protocol_checks as checks
from comfy_protocol_client import ComfyClient

from orchestrator.comfy.server import EmbeddedServer


def test_first_frame_is_status_with_sid(client: ComfyClient) -> None:
    assert client.first_frame == {
        "type": "status",
        "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": client.client_id},
    }


def test_socket_without_client_id_gets_a_generated_sid(server: EmbeddedServer) -> None:
    ws = websocket.create_connection(server.url.replace("http", "ws") + "/ws", timeout=10)
    try:
        frame = json.loads(ws.recv())
        assert frame["type"] == "status" and len(frame["data"]["sid"]) == 32
    finally:
        ws.close()


def test_feature_flags_are_answered(server: EmbeddedServer) -> None:
    ws = websocket.create_connection(server.url.replace("http", "ws") + "/api/ws?clientId=flags", timeout=10)
    try:
        json.loads(ws.recv())
        ws.send(json.dumps({"type": "feature_flags", "data": {"supports_preview_metadata": True}}))
        reply = json.loads(ws.recv())
        assert reply["type"] == "feature_flags"
        assert reply["data"]["max_upload_size"] == 1024 * 1024
    finally:
        ws.close()


def test_successful_run(client: ComfyClient) -> None:
    checks.check_success_run(client, steps=3)


def test_cached_rerun(client: ComfyClient) -> None:
    checks.check_cached_rerun(client)


def test_error_run(client: ComfyClient) -> None:
    checks.check_error_run(client)


def test_interrupt_by_prompt_id(server: EmbeddedServer, client: ComfyClient) -> None:
    with ComfyClient(server.url) as bystander:
        checks.check_interrupt_by_id(client, bystander)


def test_global_interrupt(server: EmbeddedServer, client: ComfyClient) -> None:
    with ComfyClient(server.url) as bystander:
        checks.check_global_interrupt(client, bystander)


def test_without_client_id_only_status_frames(client: ComfyClient) -> None:
    checks.check_without_client_id(client)


def test_frames_go_only_to_the_submitting_client(server: EmbeddedServer, client: ComfyClient) -> None:
    with ComfyClient(server.url) as other:
        prompt_id, _ = client.run(checks.chain(checks.unique_value()))
        other.wait_for(lambda f: f["type"] == "status" and f["data"]["status"]["exec_info"]["queue_remaining"] == 0)
        assert {f["type"] for f in other.frames} == {"status"}  # everything else is addressed to the submitter


def test_reused_client_id_replaces_the_old_socket(server: EmbeddedServer) -> None:
    with ComfyClient(server.url, client_id="shared-id") as old, ComfyClient(server.url, client_id="shared-id") as new:
        prompt_id, frames = new.run(checks.chain(checks.unique_value()))
        assert any(f["type"] == "execution_success" for f in frames)
        # The old socket is forgotten: by the time the run is over it has been sent nothing, not even broadcasts.
        with pytest.raises(TimeoutError):
            old.wait_for(lambda f: True, timeout=0.5)
        assert old.frames == [old.first_frame]


def test_reconnecting_client_is_told_the_running_node(server: EmbeddedServer, client: ComfyClient) -> None:
    prompt_id = checks.start_long_run(client, "proto/reconnect")
    with ComfyClient(server.url, client_id=client.client_id) as again:
        # ComfyUI's reconnect hint: the running node, without a prompt id.
        assert again.wait_for(lambda f: f["type"] == "executing")["data"] == {"node": "2"}
        again.interrupt(prompt_id)
        frames = again.wait_done(prompt_id)
        assert any(f["type"] == "execution_interrupted" for f in frames)


def test_history_listing_and_deletion(client: ComfyClient) -> None:
    ids = [client.run(checks.chain(checks.unique_value()))[0] for _ in range(3)]
    everything = client.history()
    assert list(everything)[-3:] == ids
    assert list(client.history(max_items=2)) == ids[1:]
    start = len(everything) - 3
    assert list(client.history(max_items=1, offset=start + 1)) == [ids[1]]
    assert list(client.history(offset=start)) == ids
    assert client.history("unknown-id") == {}
    assert client.post("/history", {"delete": [ids[0]]}).status_code == 200
    assert client.history(ids[0]) == {} and ids[1] in client.history()
    assert client.post("/history", {"clear": True}).status_code == 200
    assert client.history() == {}


def test_submitted_fields_are_kept(client: ComfyClient) -> None:
    value = checks.unique_value()
    answer = client.submit(
        checks.chain(value),
        prompt_id="my-own-id",
        number=3.5,
        extra_data={"api_key_comfy_org": "secret", "auth_token_comfy_org": "secret", "keep": 1},
    )
    assert answer == {"prompt_id": "my-own-id", "number": 3.5, "node_errors": {}}
    client.wait_done("my-own-id")
    number, _, _, extra_data, _ = client.history("my-own-id")["my-own-id"]["prompt"]
    assert number == 3.5
    assert (
        extra_data["keep"] == 1 and "api_key_comfy_org" not in extra_data and "auth_token_comfy_org" not in extra_data
    )


def test_partial_execution_targets(client: ComfyClient) -> None:
    value = checks.unique_value()
    prompt = checks.chain(value)
    prompt["4"] = {"class_type": "ProtoSave", "inputs": {"value": ["1", 0], "filename_prefix": "proto/second"}}
    prompt_id, frames = client.run(prompt, partial_execution_targets=["4"])
    assert [f["data"]["node"] for f in frames if f["type"] == "executing" and f["data"]["node"]] == ["1", "4"]
    entry = client.history(prompt_id)[prompt_id]
    assert list(entry["outputs"]) == ["4"] and entry["prompt"][4] == ["4"]


def test_view_serves_outputs(client: ComfyClient) -> None:
    _, value, entry = checks.check_success_run(client)
    checks.check_view(client, entry, value)


def test_routes_are_also_under_api(client: ComfyClient) -> None:
    for path in ("/prompt", "/queue", "/history", "/object_info", "/system_stats", "/features"):
        plain, prefixed = client.get(path), client.get("/api" + path)
        assert plain.status_code == prefixed.status_code == 200
    assert client.post("/api/prompt", {"prompt": checks.chain(1000), "client_id": "x"}).status_code == 200


def test_object_info(client: ComfyClient) -> None:
    info = client.get("/object_info").json()
    assert set(info) == {"ProtoNumber", "ProtoTicker", "ProtoSave", "ProtoText", "ProtoFail"}
    ticker = info["ProtoTicker"]
    assert ticker["input"]["required"]["steps"] == [
        "INT",
        {"default": 3, "min": 1, "max": 10000, "tooltip": "Progress ticks."},
    ]
    assert ticker["input"]["optional"]["mode"][0] == ["add", "keep"]
    assert ticker["input_order"] == {"required": ["value", "steps", "delay"], "optional": ["mode"]}
    assert ticker["output"] == ["INT"] and ticker["output_is_list"] == [False] and ticker["output_name"] == ["INT"]
    assert ticker["display_name"] == "ProtoTicker" and ticker["output_node"] is False
    assert ticker["python_module"] == "custom_nodes.comfy_nodes" and ticker["category"] == "protocol tests"
    number = info["ProtoNumber"]
    assert number["display_name"] == "Proto Number" and number["output_name"] == ["value"]
    assert number["description"] == "Passes a number on." and number["output_tooltips"] == ["The number."]
    assert info["ProtoSave"]["output_node"] is True
    assert client.get("/object_info/ProtoSave").json() == {"ProtoSave": info["ProtoSave"]}
    assert client.get("/object_info/Unknown").json() == {}


def test_system_stats_and_features(client: ComfyClient) -> None:
    stats = client.get("/system_stats").json()
    assert set(stats["system"]) >= {
        "os",
        "ram_total",
        "ram_free",
        "comfyui_version",
        "python_version",
        "pytorch_version",
        "embedded_python",
        "argv",
    }
    assert stats["system"]["comfyui_version"].startswith("wan-i2v")
    (device,) = stats["devices"]
    assert set(device) == {"name", "type", "index", "vram_total", "vram_free", "torch_vram_total", "torch_vram_free"}
    assert client.get("/features").json() == {
        "supports_preview_metadata": True,
        "max_upload_size": 1024 * 1024,
        "extension": {},
    }


def test_free_keeps_the_server_running_and_drops_the_cache(client: ComfyClient) -> None:
    prompt = checks.chain(checks.unique_value())
    client.run(prompt)
    assert client.post("/free", {"unload_models": True, "free_memory": True}).status_code == 200
    # The runner applies the flags between prompts; the next identical prompt runs again.
    _, frames = client.run(checks.chain(checks.unique_value()))
    _, frames = client.run(prompt)
    assert [f["data"]["nodes"] for f in frames if f["type"] == "execution_cached"] == [[]]


def test_cross_site_requests_are_refused(server: EmbeddedServer) -> None:
    port = server.port
    refused = requests.post(f"{server.url}/prompt", json={}, headers={"Origin": "http://evil.example"}, timeout=10)
    assert refused.status_code == 403
    same = requests.get(f"{server.url}/prompt", headers={"Origin": f"http://127.0.0.1:{port}"}, timeout=10)
    assert same.status_code == 200

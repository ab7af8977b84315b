"""The Host allow-list: a DNS-rebinding page (its own name resolved to 127.0.0.1) is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import server_protocol_nodes
import websocket

from orchestrator.comfy.server import EmbeddedServer, ServerConfig, create_app
from orchestrator.comfy.server.security import ALLOWED_HOSTS_ENV, host_allowed


def test_a_rebinding_host_is_refused_and_loopback_names_are_served(server: EmbeddedServer) -> None:
    port = server.port
    # Origin and Host agree, as they do after DNS rebinding: only the Host allow-list stops this.
    evil = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    refused = requests.post(f"{server.url}/prompt", json={"prompt": {}}, headers=evil, timeout=10)
    assert refused.status_code == 403 and "not allowed" in refused.text
    assert requests.get(f"{server.url}/api/queue", headers={"Host": "evil.example"}, timeout=10).status_code == 403
    for name in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "LOCALHOST"):
        assert requests.get(f"{server.url}/prompt", headers={"Host": name}, timeout=10).status_code == 200, name
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(f"ws://127.0.0.1:{port}/ws", host=f"evil.example:{port}", timeout=10)


def test_allowed_hosts_are_configurable(tmp_path: Path, module_host_folders: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOWED_HOSTS_ENV, "comfy-gpu0, Render.Local")
    config = ServerConfig(data_dir=tmp_path)
    assert {"127.0.0.1", "localhost", "::1", "comfy-gpu0", "render.local"} <= set(config.allowed_hosts)
    with EmbeddedServer(create_app(config, server_protocol_nodes.NODE_CLASS_MAPPINGS)) as server:
        ok = requests.get(f"{server.url}/prompt", headers={"Host": f"comfy-gpu0:{server.port}"}, timeout=10)
        assert ok.status_code == 200
        other = requests.get(f"{server.url}/prompt", headers={"Host": "elsewhere"}, timeout=10)
        assert other.status_code == 403


def test_host_matching_rules() -> None:
    allowed = ("127.0.0.1", "localhost", "::1")
    assert host_allowed("127.0.0.1:8188", allowed) and host_allowed("[::1]:8188", allowed)
    assert not host_allowed("127.0.0.1.evil.example", allowed)
    assert not host_allowed("localhost.evil.example:8188", allowed)
    assert not host_allowed("", allowed) and not host_allowed("[bad", allowed)
    assert host_allowed("anything", ("*",))

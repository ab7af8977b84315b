"""/object_info is cached until the listed folders change, and slow folder scans or validation never block the loop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import server_protocol_checks as checks
import server_protocol_nodes

from comfy_nodes import host
from orchestrator.comfy.server import EmbeddedServer, ServerConfig, create_app


class SlowListing:
    """INPUT_TYPES lists the input folder and takes `delay` seconds (a slow network drive); counts its calls."""

    calls = 0
    delay = 0.0

    @classmethod
    def INPUT_TYPES(cls):
        cls.calls += 1
        time.sleep(cls.delay)
        names = sorted(p.name for p in host.input_dir().iterdir()) or ["none"]
        return {"required": {"name": (names, {"tooltip": "A file in the input folder."})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "protocol tests"

    def run(self, name):
        return (1,)


class SlowCheck:
    """VALIDATE_INPUTS takes `delay` seconds (reading a large file, say)."""

    delay = 0.0

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"tooltip": "Any number."})}}

    @classmethod
    def VALIDATE_INPUTS(cls, value):
        time.sleep(cls.delay)
        return True

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "protocol tests"

    def run(self, value):
        return (value,)


@pytest.fixture
def slow_server(tmp_path: Path, module_host_folders: None) -> Iterator[EmbeddedServer]:
    nodes = {**server_protocol_nodes.NODE_CLASS_MAPPINGS, "SlowListing": SlowListing, "SlowCheck": SlowCheck}
    SlowListing.calls, SlowListing.delay, SlowCheck.delay = 0, 0.0, 0.0
    with EmbeddedServer(create_app(ServerConfig(data_dir=tmp_path, models_dir=tmp_path / "models"), nodes)) as server:
        yield server


def _quick_get(url: str) -> float:
    started = time.monotonic()
    assert requests.get(url, timeout=10).status_code == 200
    return time.monotonic() - started


def _while_busy(busy, url: str) -> float:
    """How long GET url takes while `busy()` runs on another thread."""
    thread = threading.Thread(target=busy)
    thread.start()
    time.sleep(0.3)  # busy() is now inside the slow part
    try:
        return _quick_get(url)
    finally:
        thread.join(10)


def test_object_info_is_built_once_and_rebuilt_when_the_input_folder_changes(slow_server: EmbeddedServer) -> None:
    url = f"{slow_server.url}/object_info"
    first = requests.get(url, timeout=10).json()
    assert first["SlowListing"]["input"]["required"]["name"][0] == ["none"]
    calls = SlowListing.calls
    for _ in range(3):
        assert requests.get(url, timeout=10).json() == first
        requests.get(f"{url}/SlowListing", timeout=10)
    assert SlowListing.calls == calls  # served from the cache
    (slow_server.state.folders.input / "cat.png").write_bytes(b"x")
    refreshed = requests.get(f"{url}/SlowListing", timeout=10).json()
    assert refreshed["SlowListing"]["input"]["required"]["name"][0] == ["cat.png"]
    assert SlowListing.calls == calls + 1


def test_a_slow_object_info_build_does_not_block_other_requests(slow_server: EmbeddedServer) -> None:
    SlowListing.delay = 1.5
    took = _while_busy(lambda: requests.get(f"{slow_server.url}/object_info", timeout=30), f"{slow_server.url}/prompt")
    assert took < 0.8, f"GET /prompt waited {took:.2f} s behind /object_info"


def test_slow_validation_does_not_block_other_requests(slow_server: EmbeddedServer) -> None:
    SlowCheck.delay = 1.5
    prompt = {
        "1": {"class_type": "SlowCheck", "inputs": {"value": checks.unique_value()}},
        "2": {"class_type": "ProtoSave", "inputs": {"value": ["1", 0], "filename_prefix": "slow/check"}},
    }

    def submit() -> None:
        assert requests.post(f"{slow_server.url}/prompt", json={"prompt": prompt}, timeout=30).status_code == 200

    took = _while_busy(submit, f"{slow_server.url}/queue")
    assert took < 0.8, f"GET /queue waited {took:.2f} s behind a prompt's validation"

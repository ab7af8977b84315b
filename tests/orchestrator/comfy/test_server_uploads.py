"""Uploads are checked like the command line checks --image (content, pixels) when they arrive and when a
prompt names them, and the input folder keeps to its retention budget."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import server_protocol_checks as checks
import server_protocol_nodes
from comfy_protocol_client import ComfyClient
from PIL import Image

from comfy_nodes.nodes.image import LoadImage
from orchestrator.comfy.server import EmbeddedServer, ServerConfig, create_app
from orchestrator.comfy.server.files import input_names_in_use, prune_inputs


class ImageSink:
    """An output node that takes an IMAGE and keeps nothing."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE", {"tooltip": "Any image."})}}

    RETURN_TYPES = ()
    OUTPUT_NODE = True
    FUNCTION = "run"
    CATEGORY = "protocol tests"

    def run(self, image):
        return {}


def png(size: tuple[int, int], colour: tuple[int, int, int] = (10, 20, 30), fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt)
    return buffer.getvalue()


@pytest.fixture
def upload_server(tmp_path: Path, module_host_folders: None) -> Iterator[EmbeddedServer]:
    nodes = {**server_protocol_nodes.NODE_CLASS_MAPPINGS, "LoadImage": LoadImage, "ImageSink": ImageSink}
    config = ServerConfig(data_dir=tmp_path, max_upload_mb=1, max_image_pixels=100 * 100, max_input_files=3)
    with EmbeddedServer(create_app(config, nodes)) as server:
        yield server


@pytest.fixture
def client(upload_server: EmbeddedServer) -> Iterator[ComfyClient]:
    with ComfyClient(upload_server.url) as c:
        yield c


def _load_prompt(name: str) -> dict:
    return {"1": {"class_type": "LoadImage", "inputs": {"image": name}}, "2": {"class_type": "ImageSink", "inputs": {"image": ["1", 0]}}}


def test_uploads_are_sniffed_and_pixel_limited(client: ComfyClient, upload_server: EmbeddedServer) -> None:
    assert client.upload("ok.png", png((64, 48))).status_code == 200
    too_many = client.upload("big.png", png((200, 200)))
    assert too_many.status_code == 400 and "pixel limit" in too_many.json()["error"]["message"]
    # A PPM is an image Pillow reads, but not an accepted format; the name does not decide.
    disguised = client.upload("photo.png", png((8, 8), fmt="PPM"))
    assert disguised.status_code == 400 and "Accepted formats" in disguised.json()["error"]["message"]
    jpeg_named_png = client.upload("named.png", png((8, 8), fmt="JPEG"))
    assert jpeg_named_png.status_code == 200
    assert not (upload_server.state.folders.input / "big.png").exists()


def test_a_prompt_naming_a_bad_input_file_is_refused_at_submit(client: ComfyClient, upload_server: EmbeddedServer) -> None:
    folder = upload_server.state.folders.input
    (folder / "planted.png").write_bytes(png((200, 200)))  # put there without an upload
    (folder / "text.png").write_text("not an image")
    for name, expected in (("planted.png", "pixel limit"), ("text.png", "Cannot read 'text.png'")):
        answer = client.post("/prompt", {"prompt": _load_prompt(name), "client_id": client.client_id})
        assert answer.status_code == 400, name
        errors = answer.json()["node_errors"]["1"]["errors"]
        assert expected in " ".join(e.get("details", "") + e["message"] for e in errors), errors
    assert client.upload("fine.png", png((32, 32))).status_code == 200
    done = client.submit(_load_prompt("fine.png"))["prompt_id"]
    assert [f for f in client.wait_done(done) if f["type"] == "execution_success"]


def test_input_retention_keeps_the_newest_and_what_queued_prompts_name(client: ComfyClient, upload_server: EmbeddedServer) -> None:
    folder = upload_server.state.folders.input
    assert client.upload("needed.png", png((16, 16), (1, 1, 1))).status_code == 200
    old = time.time() - 3600
    os.utime(folder / "needed.png", (old, old))  # the oldest file
    blocker = checks.start_long_run(client, "proto/retention")
    pending = client.submit(_load_prompt("needed.png"))["prompt_id"]  # queued behind the blocker
    for i in range(5):
        assert client.upload(f"u{i}.png", png((16, 16), (i + 10, 0, 0))).status_code == 200
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["needed.png", "u3.png", "u4.png"]  # 3 files, the queued prompt's input spared
    client.interrupt(blocker)
    frames = client.wait_done(pending)
    assert [f for f in frames if f["type"] == "execution_success"]


def test_prune_inputs_by_age_count_and_bytes(tmp_path: Path) -> None:
    now = time.time()
    for i, (age_h, size) in enumerate([(200, 10), (5, 10), (4, 500), (3, 10), (1, 10)]):
        path = tmp_path / f"f{i}.png"
        path.write_bytes(b"x" * size)
        os.utime(path, (now - age_h * 3600, now - age_h * 3600))
    removed = prune_inputs(tmp_path, max_bytes=100, max_files=10, max_age_s=168 * 3600, keep={"f1.png"}, now=now)
    assert removed == ["f0.png", "f2.png"]  # too old, then the oldest until under 100 bytes (f1 is kept)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f1.png", "f3.png", "f4.png"]
    assert input_names_in_use([_load_prompt("sub/a.png [input]"), _load_prompt("b.png [output]")]) >= {"sub/a.png"}

"""/view and /upload/image: downloads with Range, upload naming, refusals."""

from __future__ import annotations

import pytest
import server_protocol_checks as checks
from comfy_protocol_client import ComfyClient

from orchestrator.comfy.server import EmbeddedServer
from orchestrator.comfy.server.files import split_annotation


def test_view_of_a_produced_file(client: ComfyClient) -> None:
    _, value, entry = checks.check_success_run(client)
    checks.check_view(client, entry, value)


def test_view_content_type_and_suffix_range(client: ComfyClient, server: EmbeddedServer) -> None:
    output = server.state.folders.output
    (output / "clip.mp4").write_bytes(b"0123456789" * 10)
    response = client.view("clip.mp4")
    assert response.headers["Content-Type"] == "video/mp4"
    tail = client.view("clip.mp4", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == b"0123456789"
    head = client.http.head(client.base + "/view", params={"filename": "clip.mp4"}, timeout=10)
    assert head.status_code == 200 and head.headers["Content-Length"] == "100"
    (output / "page.html").write_text("<script>alert(1)</script>")
    assert client.view("page.html").headers["Content-Type"] == "application/octet-stream"


def test_view_refusals(client: ComfyClient) -> None:
    assert client.get("/view").status_code == 404
    assert client.view("x.png", type_="elsewhere").status_code == 400
    assert client.view("a/../../x.png").status_code == 400
    assert client.view("x.png", "/etc").status_code == 403


def test_view_image_preview_and_channels(client: ComfyClient) -> None:
    name = client.upload(f"pv{checks.unique_value()}.png", checks.png_bytes((10, 20, 30), (16, 16))).json()["name"]
    webp = client.get("/view", params={"filename": name, "type": "input", "preview": "webp;80"})
    assert webp.status_code == 200 and webp.headers["Content-Type"] == "image/webp" and webp.content[8:12] == b"WEBP"
    jpeg = client.get("/view", params={"filename": name, "type": "input", "preview": "jpeg;70"})
    assert jpeg.headers["Content-Type"] == "image/jpeg" and jpeg.content[:2] == b"\xff\xd8"
    rgb = client.get("/view", params={"filename": name, "type": "input", "channel": "rgb"})
    assert rgb.headers["Content-Type"] == "image/png" and rgb.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_upload_naming(client: ComfyClient) -> None:
    checks.check_upload_names(client)


def test_upload_refuses_non_images(client: ComfyClient) -> None:
    response = client.upload("notes.png", b"this is text, not a picture", "text/plain")
    assert response.status_code == 400
    assert "Cannot read 'notes.png' as an image" in response.json()["error"]["message"]


def test_upload_refuses_too_large(client: ComfyClient) -> None:
    response = client.upload("huge.png", b"\0" * (2 * 1024 * 1024))
    assert response.status_code == 413
    assert "1 MB limit" in response.json()["error"]["message"]


@pytest.mark.parametrize("name", ["../escape.png", "a/b.png", "..", "bad\x01name.png", "x" * 300 + ".png", ""])
def test_upload_refuses_hostile_names(client: ComfyClient, server: EmbeddedServer, name: str) -> None:
    response = client.upload(name, checks.png_bytes((1, 2, 3)))
    assert response.status_code == 400, response.text
    assert not (server.state.folders.input.parent / "escape.png").exists()


def test_upload_backslash_names_stay_inside(client: ComfyClient, server: EmbeddedServer) -> None:
    # The multipart parser unescapes the quoted name; whatever arrives must stay in the input folder.
    response = client.upload("..\\escape2.png", checks.png_bytes((1, 2, 3)))
    if response.status_code == 200:
        name = response.json()["name"]
        assert "/" not in name and "\\" not in name and (server.state.folders.input / name).is_file()
    else:
        assert response.status_code == 400
    assert not (server.state.folders.input.parent / "escape2.png").exists()


@pytest.mark.parametrize("subfolder", ["../..", "/tmp", "a/../../.."])
def test_upload_refuses_subfolder_escapes(client: ComfyClient, subfolder: str) -> None:
    response = client.upload("ok.png", checks.png_bytes((1, 2, 3)), subfolder=subfolder)
    assert response.status_code == 400 and "outside" in response.json()["error"]["message"]


def test_upload_needs_a_file_field(client: ComfyClient) -> None:
    response = client.post("/upload/image", data={"image": "just text"})
    assert response.status_code == 400
    assert client.upload("x.png", checks.png_bytes((0, 0, 0)), type="elsewhere").status_code == 400


def test_split_annotation() -> None:
    assert split_annotation("a.png [output]") == ("a.png", "output")
    assert split_annotation("sub/a.png [input]") == ("sub/a.png", "input")
    assert split_annotation("a.png[temp]") == ("a.png", "temp")
    assert split_annotation("a.png") == ("a.png", None)

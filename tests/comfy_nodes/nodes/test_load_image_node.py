"""LoadImage stand-in: same interface and validation messages as ComfyUI's core node."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from PIL import Image

from comfy_nodes import host
from comfy_nodes.errors import InputImageError
from comfy_nodes.nodes.image import LoadImage


@pytest.fixture
def input_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the host's folders at tmp_path; restored afterwards."""
    monkeypatch.setattr(host, "_io_dirs", {})
    host.set_io_dirs(input=tmp_path / "input", output=tmp_path / "output", temp=tmp_path / "temp")
    return host.input_dir()


def put(folder: Path, name: str, colour: tuple[int, ...] = (255, 0, 0), mode: str = "RGB") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, (8, 6), colour).save(path)
    return path


def test_interface_matches_the_core_node(input_dir: Path) -> None:
    put(input_dir, "b.png")
    put(input_dir, "sub/a.png")
    (input_dir / "readme.txt").write_text("x")
    options, extra = LoadImage.INPUT_TYPES()["required"]["image"]
    assert options == ["b.png", "sub/a.png"]
    assert extra["image_upload"] is True and extra["tooltip"]
    assert LoadImage.RETURN_TYPES == ("IMAGE", "MASK")
    assert (LoadImage.FUNCTION, LoadImage.CATEGORY) == ("load_image", "image")


def test_load_image_returns_image_and_mask(input_dir: Path) -> None:
    put(input_dir, "sub/pic.png", (0, 0, 255, 64), mode="RGBA")
    image, mask = LoadImage().load_image("sub/pic.png")
    assert image.shape == (1, 6, 8, 3)
    assert torch.allclose(image[0, 0, 0], torch.tensor([0.0, 0.0, 1.0]))
    assert torch.allclose(mask, torch.full((1, 6, 8), 1 - 64 / 255))


def test_load_image_accepts_annotated_output_names(input_dir: Path) -> None:
    put(host.output_dir(), "made.png", (0, 255, 0))
    image, mask = LoadImage().load_image("made.png [output]")
    assert torch.allclose(image[0, 0, 0], torch.tensor([0.0, 1.0, 0.0]))
    assert mask.shape == (1, 64, 64)


def test_is_changed_is_the_file_sha256_and_follows_the_content(input_dir: Path) -> None:
    path = put(input_dir, "pic.png", (1, 2, 3))
    first = LoadImage.IS_CHANGED("pic.png")
    assert first == hashlib.sha256(path.read_bytes()).hexdigest()
    assert LoadImage.IS_CHANGED("pic.png [input]") == first
    put(input_dir, "pic.png", (4, 5, 6))
    assert LoadImage.IS_CHANGED("pic.png") != first


def test_validate_inputs_starts_with_the_core_message_and_says_the_fix(input_dir: Path) -> None:
    put(input_dir, "there.png")
    assert LoadImage.VALIDATE_INPUTS("there.png") is True
    missing = LoadImage.VALIDATE_INPUTS("missing.png")
    assert missing.startswith("Invalid image file: missing.png (") and "was not found in" in missing
    assert "Upload it or pick another file" in missing
    outside = LoadImage.VALIDATE_INPUTS("../there.png")
    assert outside.startswith("Invalid image file: ../there.png (") and "points outside its folder" in outside


def test_validate_inputs_reads_the_content_at_submit_time(input_dir: Path) -> None:
    (input_dir / "fake.png").write_bytes(b"\x89PNG not really")
    good = put(input_dir, "real.png").read_bytes()
    (input_dir / "cut.png").write_bytes(good[: len(good) // 2])  # a truncated upload
    for name in ("fake.png", "cut.png"):
        message = LoadImage.VALIDATE_INPUTS(name)
        assert isinstance(message, str) and message.startswith(f"Invalid image file: {name} (")
    assert LoadImage.VALIDATE_INPUTS("real.png") is True


def test_loading_a_broken_upload_raises_input_image_error(input_dir: Path) -> None:
    (input_dir / "fake.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(InputImageError, match="fake.png"):
        LoadImage().load_image("fake.png")

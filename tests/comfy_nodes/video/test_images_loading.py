"""Reading input images like ComfyUI's LoadImage, and resolving their names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from comfy_nodes import host
from comfy_nodes.errors import InputImageError
from comfy_nodes.video.images import list_input_images, load_image_file, resolve_input_image


@pytest.fixture
def io_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Point the host's input/output/temp folders at tmp_path; restored afterwards."""
    monkeypatch.setattr(host, "_io_dirs", {})
    dirs = {key: tmp_path / key for key in ("input", "output", "temp")}
    host.set_io_dirs(**dirs)
    return dirs


def save(img: Image.Image, path: Path, **kwargs: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kwargs)
    return path


def test_rgba_gives_rgb_and_inverted_alpha_mask(tmp_path: Path) -> None:
    pixels = np.zeros((6, 10, 4), dtype=np.uint8)
    pixels[..., 0] = 200
    pixels[..., 3] = np.linspace(0, 255, 10, dtype=np.uint8)[None, :]
    image, mask = load_image_file(save(Image.fromarray(pixels, "RGBA"), tmp_path / "a.png"))
    assert image.shape == (1, 6, 10, 3) and image.dtype == torch.float32
    assert mask.shape == (1, 6, 10) and mask.dtype == torch.float32
    assert torch.allclose(image[0, :, :, 0], torch.full((6, 10), 200 / 255))
    expected = 1.0 - torch.from_numpy(pixels[..., 3].astype(np.float32) / 255.0)
    assert torch.allclose(mask[0], expected)


def test_opaque_image_gets_a_64x64_zero_mask(tmp_path: Path) -> None:
    image, mask = load_image_file(save(Image.new("RGB", (12, 8), (10, 20, 30)), tmp_path / "rgb.png"))
    assert image.shape == (1, 8, 12, 3)
    assert torch.allclose(image[0, 0, 0], torch.tensor([10, 20, 30]) / 255.0)
    assert mask.shape == (1, 64, 64) and not mask.any()


def test_greyscale_becomes_three_equal_channels(tmp_path: Path) -> None:
    grey = Image.fromarray(np.arange(0, 240, 10, dtype=np.uint8).reshape(4, 6), "L")
    image, _ = load_image_file(save(grey, tmp_path / "l.png"))
    assert image.shape == (1, 4, 6, 3)
    assert torch.equal(image[..., 0], image[..., 1]) and torch.equal(image[..., 1], image[..., 2])
    assert image[0, 0, 1, 0].item() == pytest.approx(10 / 255)


def test_greyscale_with_alpha(tmp_path: Path) -> None:
    image, mask = load_image_file(save(Image.new("LA", (5, 3), (128, 64)), tmp_path / "la.png"))
    assert image.shape == (1, 3, 5, 3)
    assert torch.allclose(image, torch.full_like(image, 128 / 255))
    assert torch.allclose(mask, torch.full((1, 3, 5), 1 - 64 / 255))


def test_palette_with_transparency_gives_a_mask(tmp_path: Path) -> None:
    img = Image.new("P", (4, 4), 0)
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    img.putpixel((0, 0), 1)
    path = save(img, tmp_path / "p.png", transparency=0)  # index 0 (red) is transparent
    image, mask = load_image_file(path)
    assert torch.allclose(image[0, 0, 0], torch.tensor([0.0, 0.0, 1.0]))
    assert mask[0, 0, 0].item() == 0.0 and mask[0, 1, 1].item() == 1.0


def test_sixteen_bit_greyscale_keeps_its_precision(tmp_path: Path) -> None:
    values = np.array([[0, 1000, 32768, 65535]], dtype=np.uint16)
    path = save(Image.fromarray(values), tmp_path / "deep.png")
    with Image.open(path) as check:
        assert check.mode == "I;16"
    image, mask = load_image_file(path)
    assert image.shape == (1, 1, 4, 3)
    assert torch.allclose(image[0, 0, :, 0], torch.from_numpy(values[0].astype(np.float32) / 65535.0))
    assert mask.shape == (1, 64, 64)


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path: Path) -> None:
    path = save(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), tmp_path / "cmyk.jpg", quality=95)
    with Image.open(path) as check:
        assert check.mode == "CMYK"
    image, _ = load_image_file(path)
    red, green, blue = image[0, 8, 8].tolist()
    assert red > 0.9 and green < 0.1 and blue < 0.1


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    pixels = np.zeros((20, 40, 3), dtype=np.uint8)
    pixels[:10, :10] = 255  # white block top-left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    path = save(Image.fromarray(pixels, "RGB"), tmp_path / "rotated.jpg", exif=exif, quality=95)
    image, _ = load_image_file(path)
    assert image.shape == (1, 40, 20, 3)
    # After a clockwise turn the stored top-left corner is displayed top-right.
    assert image[0, :10, 10:, 0].mean() > 0.9
    assert image[0, :10, :10, 0].mean() < 0.1


def test_first_frame_of_an_animation(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (6, 6), colour) for colour in ((255, 0, 0), (0, 255, 0))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    image, _ = load_image_file(path)
    assert image.shape == (1, 6, 6, 3)
    assert image[0, 0, 0, 0].item() > 0.9


def test_corrupt_image_names_the_file(tmp_path: Path) -> None:
    good = save(Image.new("RGB", (64, 64), (1, 2, 3)), tmp_path / "whole.png").read_bytes()
    broken = tmp_path / "broken.png"
    broken.write_bytes(good[: len(good) // 2])
    with pytest.raises(InputImageError, match="broken.png"):
        load_image_file(broken)


def test_non_image_lists_the_accepted_formats(tmp_path: Path) -> None:
    fake = tmp_path / "notes.png"
    fake.write_text("just text")
    with pytest.raises(InputImageError, match=r"notes\.png.*Accepted formats: PNG, JPEG"):
        load_image_file(fake)


def test_missing_image(tmp_path: Path) -> None:
    with pytest.raises(InputImageError, match="does not exist"):
        load_image_file(tmp_path / "gone.png")


def test_list_input_images_is_recursive_sorted_and_filtered(io_dirs: dict[str, Path]) -> None:
    root = io_dirs["input"]
    for name in ("b.png", "a.JPG", "sub/c.webp", "sub/deeper/d.png", "notes.txt", ".hidden/e.png", "sub/model.safetensors"):
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"x")
    assert list_input_images() == ["a.JPG", "b.png", "sub/c.webp", "sub/deeper/d.png"]


@pytest.mark.parametrize(
    ("name", "folder", "relative"),
    [
        ("x.png", "input", "x.png"),
        ("sub/x.png", "input", "sub/x.png"),
        ("sub/x.png [input]", "input", "sub/x.png"),
        ("x.png [output]", "output", "x.png"),
        ("x.png[temp]", "temp", "x.png"),
    ],
)
def test_annotated_names_resolve_to_their_folder(io_dirs: dict[str, Path], name: str, folder: str, relative: str) -> None:
    target = save(Image.new("RGB", (2, 2)), io_dirs[folder] / relative)
    assert resolve_input_image(name) == target


@pytest.mark.parametrize(
    "name", ["../x.png", "sub/../../x.png", "/etc/passwd", "C:/x.png", "..\\x.png", "../x.png [output]", ""]
)
def test_escapes_and_empty_names_are_refused(io_dirs: dict[str, Path], name: str) -> None:
    save(Image.new("RGB", (2, 2)), io_dirs["input"].parent / "x.png")  # a real file just outside
    with pytest.raises(InputImageError):
        resolve_input_image(name)


def test_missing_input_names_the_folder(io_dirs: dict[str, Path]) -> None:
    with pytest.raises(InputImageError, match=r"'nope\.png' was not found"):
        resolve_input_image("nope.png")

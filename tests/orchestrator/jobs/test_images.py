"""The accepted image formats are decided in one place, and every message lists that same set."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from orchestrator.core.errors import InvalidImage
from orchestrator.jobs.images import ACCEPTED, FORMAT_NAMES, FORMATS, store_image

LIMITS = dict(max_bytes=2_000_000, max_pixels=4_000_000, min_side=16)


def _encoded(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("P" if fmt == "GIF" else "RGB", (40, 30)).save(out, fmt)
    return out.getvalue()


def test_the_message_list_and_the_check_are_one_constant() -> None:
    assert FORMATS == {name.upper() for name in FORMAT_NAMES}
    assert ACCEPTED == "PNG, JPEG, WebP, BMP, GIF or TIFF"


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_each_accepted_format_is_stored_as_png(tmp_path: Path, fmt: str) -> None:
    stored = store_image(_encoded(fmt), tmp_path, **LIMITS)
    assert Image.open(stored.path).format == "PNG" and (stored.width, stored.height) == (40, 30)


@pytest.mark.parametrize("data, message", [
    (b"", f"The image file is empty; choose a {ACCEPTED} picture."),
    (b"not a picture", f"The file is not an image that can be read ({ACCEPTED} expected)."),
    ("PPM", f"PPM images are not accepted; send {ACCEPTED}."),
])
def test_refusals_list_what_is_accepted(tmp_path: Path, data: bytes | str, message: str) -> None:
    with pytest.raises(InvalidImage) as caught:
        store_image(_encoded(data) if isinstance(data, str) else data, tmp_path, **LIMITS)
    assert caught.value.message == message and caught.value.field == "image"

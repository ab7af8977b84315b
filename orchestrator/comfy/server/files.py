"""The server's input/output/temp folders: safe lookups for /view and saving for /upload/image.

Errors are `FileRequestError(status, message)`; the routes turn them into responses.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from comfy_nodes.errors import InputImageError
from comfy_nodes.video.image_check import check_image_bytes

from orchestrator.errors import OrchestratorError

FOLDER_TYPES = ("input", "output", "temp")
MAX_NAME_BYTES = 255
MB = 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000  # far above any video size (1280x720), far below a decompression bomb


class FileRequestError(OrchestratorError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Folders:
    input: Path
    output: Path
    temp: Path

    @classmethod
    def under(cls, data_dir: Path) -> Folders:
        root = Path(data_dir).resolve()
        return cls(input=root / "input", output=root / "output", temp=root / "temp")

    def create(self) -> None:
        for path in (self.input, self.output, self.temp):
            path.mkdir(parents=True, exist_ok=True)

    def by_type(self, folder_type: str) -> Path | None:
        return {"input": self.input, "output": self.output, "temp": self.temp}.get(folder_type)


def split_annotation(name: str) -> tuple[str, str | None]:
    """`"a.png [output]"` -> `("a.png", "output")`; names without a tag keep None."""
    for folder_type in FOLDER_TYPES:
        tag = f"[{folder_type}]"
        if name.endswith(tag):
            return name[: -len(tag)].rstrip(" "), folder_type
    return name, None


def _inside(folder: str, path: str) -> bool:
    return os.path.commonpath((folder, path)) == folder


def resolve_view(folders: Folders, filename: str, folder_type: str | None, subfolder: str | None) -> Path:
    """The file `/view` should serve, with ComfyUI's checks: 400 for `..` or a
    leading `/` or an unknown type, 403 for a subfolder outside the folder,
    404 when there is no such file."""
    name, tagged = split_annotation(filename)
    if not name:
        raise FileRequestError(400, "filename is empty")
    if name.startswith("/") or ".." in name:
        raise FileRequestError(400, "filename must not start with '/' or contain '..'")
    base = folders.by_type(tagged or folder_type or "output")
    if base is None:
        raise FileRequestError(400, f"unknown type {folder_type!r}; expected one of {', '.join(FOLDER_TYPES)}")
    folder = os.path.abspath(base)
    if subfolder:
        candidate = os.path.abspath(os.path.join(folder, subfolder))
        if not _inside(folder, candidate):
            raise FileRequestError(403, "subfolder is outside the folder")
        folder = candidate
    path = Path(folder) / os.path.basename(name)
    if not path.is_file():
        raise FileRequestError(404, f"no such file: {name}")
    return path


def resolve_input(folders: Folders, name: str) -> Path | None:
    """The file a LoadImage name ("sub/a.png", "a.png [output]") points at, or None when there
    is none (LoadImage's own check reports that); 400 for names that leave their folder."""
    relative, tagged = split_annotation(name.strip())
    relative = relative.replace("\\", "/")
    base = folders.by_type(tagged or "input")
    if base is None or not relative:
        return None
    root = os.path.abspath(base)
    path = os.path.abspath(os.path.join(root, relative))
    if relative.startswith("/") or not _inside(root, path):
        raise FileRequestError(400, f"{name} points outside its folder")
    return Path(path) if os.path.isfile(path) else None


def check_upload_name(name: str) -> None:
    """Refuse names that could leave the folder or upset a file system."""
    if not name or name in (".", ".."):
        raise FileRequestError(400, "the uploaded file needs a file name")
    if "/" in name or "\\" in name:
        raise FileRequestError(400, f"file name {name!r} must not contain a path separator")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise FileRequestError(400, "file name contains control characters")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise FileRequestError(400, f"file name is longer than {MAX_NAME_BYTES} bytes")


def check_image(data: bytes, name: str, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> None:
    """Accept only what decodes as an image in an accepted format (read from the bytes, not the
    name) and has at most `max_pixels` pixels, as the command line checks --image."""
    try:
        check_image_bytes(data, name, max_pixels)
    except InputImageError as exc:
        raise FileRequestError(400, str(exc)) from exc


def check_image_file(path: Path, name: str, max_bytes: int | None, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> None:
    """The upload checks for a file already in a folder (a prompt naming it): size, content, pixels."""
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise FileRequestError(400, f"{name} is {size / MB:.1f} MB, over the {max_bytes / MB:g} MB upload limit")
    check_image(path.read_bytes(), name, max_pixels)


def input_names_in_use(prompts: Iterable[dict[str, Any]]) -> set[str]:
    """Every string input of these prompts, as a name relative to the input folder."""
    names: set[str] = set()
    for prompt in prompts:
        for node in prompt.values() if isinstance(prompt, dict) else ():
            for value in (node.get("inputs") or {}).values() if isinstance(node, dict) else ():
                if isinstance(value, str):
                    name, tagged = split_annotation(value)
                    if tagged in (None, "input"):
                        names.add(name.replace("\\", "/"))
    return names


def prune_inputs(
    folder: Path,
    *,
    max_bytes: int | None,
    max_files: int | None,
    max_age_s: float | None,
    keep: Collection[str] = (),
    now: float | None = None,
) -> list[str]:
    """Delete uploaded inputs beyond the retention budget; returns the names removed.

    Files older than `max_age_s` go first, then the oldest until at most `max_files`
    files and `max_bytes` bytes remain. Names in `keep` (inputs of queued or running
    prompts, the upload just made) are never removed, even when that leaves the
    folder over budget.
    """
    now = time.time() if now is None else now
    entries = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            stat = path.stat()
            entries.append((stat.st_mtime, stat.st_size, path, path.relative_to(folder).as_posix()))
    entries.sort()  # oldest first
    total_bytes = sum(e[1] for e in entries)
    count = len(entries)
    removed: list[str] = []
    for mtime, size, path, name in entries:
        too_old = max_age_s is not None and now - mtime > max_age_s
        over = (max_files is not None and count > max_files) or (max_bytes is not None and total_bytes > max_bytes)
        if not (too_old or over) or name in keep:
            continue
        try:
            path.unlink()
        except OSError:
            continue
        removed.append(name)
        count -= 1
        total_bytes -= size
    return removed


def _same_content(path: Path, data: bytes) -> bool:
    if path.stat().st_size != len(data):
        return False
    return hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(data).digest()


def save_upload(
    folders: Folders,
    data: bytes,
    filename: str,
    *,
    subfolder: str = "",
    folder_type: str = "input",
    overwrite: bool = False,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> dict[str, str]:
    """Store an uploaded image and return `{name, subfolder, type}`.

    Without `overwrite`, a clash with identical bytes reuses the existing name
    and a clash with different bytes becomes `name (1).ext`, `name (2).ext`, ...
    """
    base = folders.by_type(folder_type)
    if base is None:
        raise FileRequestError(400, f"unknown type {folder_type!r}; expected one of {', '.join(FOLDER_TYPES)}")
    check_upload_name(filename)
    if any(ord(ch) < 32 for ch in subfolder):
        raise FileRequestError(400, "subfolder contains control characters")
    root = os.path.abspath(base)
    folder = os.path.abspath(os.path.join(root, os.path.normpath(subfolder))) if subfolder else root
    if not _inside(root, folder):
        raise FileRequestError(400, "subfolder is outside the folder")
    check_image(data, filename, max_pixels)

    os.makedirs(folder, exist_ok=True)
    stem, ext = os.path.splitext(filename)
    name = filename
    path = Path(folder) / name
    if not overwrite:
        counter = 1
        while path.exists():
            if path.is_file() and _same_content(path, data):
                return {"name": name, "subfolder": subfolder, "type": folder_type}
            name = f"{stem} ({counter}){ext}"
            path = Path(folder) / name
            counter += 1
    path.write_bytes(data)
    return {"name": name, "subfolder": subfolder, "type": folder_type}


def preview_bytes(path: Path, spec: str) -> tuple[bytes, str]:
    """Re-encode an image for `preview=webp;90` / `jpeg;90`; returns (bytes, content type)."""
    parts = spec.split(";")
    fmt = parts[0] if parts[0] in ("webp", "jpeg") else "webp"
    quality = int(parts[-1]) if len(parts) > 1 and parts[-1].isdigit() else 90
    with Image.open(path) as image:
        if fmt == "jpeg" and image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        buffer = io.BytesIO()
        image.save(buffer, format=fmt.upper(), quality=quality)
    return buffer.getvalue(), f"image/{fmt}"


def channel_bytes(path: Path, channel: str) -> bytes:
    """`channel=rgb` drops alpha; `channel=a` returns the alpha as a PNG."""
    with Image.open(path) as image:
        if channel == "rgb":
            out = image.convert("RGB")
        else:
            rgba = image.convert("RGBA")
            out = Image.new("RGBA", rgba.size)
            out.putalpha(rgba.getchannel("A"))
        buffer = io.BytesIO()
        out.save(buffer, format="PNG")
    return buffer.getvalue()

"""Output file names in ComfyUI's SaveVideo/SaveImage scheme.

A prefix such as "wan_i2v/video" means subfolder "wan_i2v" and base name
"video"; files are `<base>_<counter:05>_.<ext>` with the counter one past the
highest already present in that subfolder for that base name.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from ..errors import ParameterError


def split_prefix(prefix: str) -> tuple[str, str]:
    """Split a filename prefix into (subfolder, base name), refusing escapes.

    The subfolder uses "/" separators and is "" when there is none. Absolute
    prefixes and ".." parts are refused so that nothing lands outside the
    output folder.
    """
    text = (prefix or "").strip().replace("\\", "/")
    if not text:
        raise ParameterError("filename_prefix is empty; give a name such as 'wan_i2v/video'.")
    if "\x00" in text:
        raise ParameterError("filename_prefix contains a NUL character.")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise ParameterError(f"filename_prefix '{prefix}' is absolute; use a path relative to the output folder.")
    parts = [p for p in PurePosixPath(text).parts if p != "."]
    if ".." in parts:
        raise ParameterError(f"filename_prefix '{prefix}' leaves the output folder ('..' is not allowed).")
    if not parts or text.endswith("/"):
        raise ParameterError(f"filename_prefix '{prefix}' has no file name after its folder.")
    return "/".join(parts[:-1]), parts[-1]


def next_counter(folder: Path, base: str) -> int:
    """One past the highest counter used by `<base>_<digits>_...` files in `folder`."""
    pattern = re.compile(rf"^{re.escape(base)}_(\d+)_")
    highest = 0
    if folder.is_dir():
        for entry in folder.iterdir():
            match = pattern.match(entry.name)
            if match:
                highest = max(highest, int(match.group(1)))
    return highest + 1


def numbered_stem(base: str, counter: int) -> str:
    return f"{base}_{counter:05}_"

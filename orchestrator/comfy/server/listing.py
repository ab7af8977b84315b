"""/object_info, cached until the folders it lists change.

Node classes' INPUT_TYPES list the model folders and the input folder, so building
/object_info reads directories. The server builds it on a worker thread, keeps the
JSON text, and rebuilds it only when a folder's signature changes: the modification
time of every directory under the model and input folders (adding, removing or
renaming a file changes its directory's).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

Signature = tuple[tuple[str, int], ...]


def folders_signature(folders: Iterable[Path]) -> Signature:
    """(directory, mtime_ns) for every directory under `folders` (missing ones count as absent)."""
    found: list[tuple[str, int]] = []
    for root in folders:
        for dirpath, _dirnames, _files in os.walk(root):
            try:
                found.append((dirpath, os.stat(dirpath).st_mtime_ns))
            except OSError:
                continue
    return tuple(found)


class ObjectInfoCache:
    """The /object_info body and its JSON text, rebuilt when `signature()` changes. Thread-safe."""

    def __init__(self, build: Callable[[], dict[str, Any]], signature: Callable[[], Signature]) -> None:
        self._build = build
        self._signature = signature
        self._lock = threading.Lock()
        self._key: Signature | None = None
        self._info: dict[str, Any] = {}
        self._text = ""
        self.builds = 0

    def get(self) -> tuple[dict[str, Any], str]:
        """(info, its JSON text); blocking: call it off the event loop."""
        key = self._signature()
        with self._lock:
            if key != self._key or self.builds == 0:
                self._info = self._build()
                self._text = json.dumps(self._info)
                self._key = key
                self.builds += 1
            return self._info, self._text

    def invalidate(self) -> None:
        with self._lock:
            self._key = None
            self.builds = 0

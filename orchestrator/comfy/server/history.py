"""Finished prompts, in insertion order, bounded like ComfyUI's in-memory history.

An entry is written once and never changed, so readers may share it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from orchestrator.errors import ConfigError

DEFAULT_MAX_HISTORY = 10000


def make_entry(
    item_public: list[Any],
    outputs: dict[str, Any],
    meta: dict[str, Any],
    status_str: str,
    completed: bool,
    messages: list[list[Any]],
) -> dict[str, Any]:
    """A history entry in ComfyUI's shape."""
    return {
        "prompt": item_public,
        "outputs": outputs,
        "status": {"status_str": status_str, "completed": completed, "messages": messages},
        "meta": meta,
    }


class History:
    def __init__(self, max_items: int = DEFAULT_MAX_HISTORY) -> None:
        if max_items < 1:
            raise ConfigError("history size must be at least 1")
        self.max_items = max_items
        self._entries: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, prompt_id: str, entry: dict[str, Any]) -> None:
        with self._lock:
            # A reused prompt id overwrites the old entry in place, as ComfyUI does.
            self._entries[prompt_id] = entry
            while len(self._entries) > self.max_items:
                self._entries.popitem(last=False)

    def get(self, prompt_id: str) -> dict[str, Any]:
        """`{id: entry}`, or `{}` while the prompt has not finished."""
        with self._lock:
            entry = self._entries.get(prompt_id)
        return {prompt_id: entry} if entry is not None else {}

    def list(self, max_items: int | None = None, offset: int | None = None) -> dict[str, Any]:
        """A slice in insertion order. With only `max_items`, the newest `max_items`
        entries; with an offset, `max_items` entries from that position."""
        with self._lock:
            items = list(self._entries.items())
        if offset is None or offset < 0:
            offset = max(len(items) - max_items, 0) if max_items is not None else 0
        end = len(items) if max_items is None else offset + max(max_items, 0)
        return dict(items[offset:end])

    def delete(self, prompt_ids: list[str]) -> None:
        with self._lock:
            for prompt_id in prompt_ids:
                self._entries.pop(prompt_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, prompt_id: object) -> bool:
        with self._lock:
            return prompt_id in self._entries

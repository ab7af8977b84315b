"""Node output cache between prompts, keyed like ComfyUI's input-signature cache.

A node's key covers its class, its literal inputs, the keys of the nodes it is
linked to (so a change upstream re-runs everything below it) and the result of
the class's IS_CHANGED. IS_CHANGED returning NaN (or raising) means "always
re-run": such a node, and everything below it, gets no key.

Only the latest prompt's entries are kept, plus up to `lru_size` older ones, so
large tensors and models are not held forever; a re-submitted prompt with the
same loader inputs reuses the loaded models, which is the point of caching.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from .graph import InputSpec, accepted_parameters, is_link

log = logging.getLogger(__name__)


@dataclass
class CacheEntry:
    outputs: tuple[Any, ...]
    ui: dict[str, Any] | None


_PLAIN = (int, float, str, bool, bytes, type(None))


def holds_objects(entries: list[CacheEntry]) -> bool:
    """Whether dropped outputs may hold models or other objects that sit in reference cycles."""
    return any(not isinstance(value, _PLAIN) for entry in entries for value in entry.outputs)


class OutputCache:
    """Entries by key, most recently used last."""

    def __init__(self, lru_size: int = 0) -> None:
        self.lru_size = max(0, int(lru_size))
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str | None) -> bool:
        return key is not None and key in self._entries

    def get(self, key: str | None) -> CacheEntry | None:
        if key is None or key not in self._entries:
            return None
        self._entries.move_to_end(key)
        return self._entries[key]

    def put(self, key: str | None, entry: CacheEntry) -> None:
        if key is not None:
            self._entries[key] = entry
            self._entries.move_to_end(key)

    def prune(self, keep: Collection[str | None]) -> list[CacheEntry]:
        """Keep the entries in `keep` and the `lru_size` most recent others; returns the dropped entries."""
        others = [k for k in self._entries if k not in keep]
        dropped = others[: max(0, len(others) - self.lru_size)]
        return [self._entries.pop(key) for key in dropped]

    def clear(self) -> None:
        self._entries.clear()


def node_keys(
    prompt: Mapping[str, Any],
    order: list[str],
    node_classes: Mapping[str, type],
    specs: Mapping[str, Mapping[str, InputSpec]],
) -> dict[str, str | None]:
    """Cache key per node (None: never cached). `order` lists dependencies first; `specs` are inputs by class."""
    keys: dict[str, str | None] = {}
    for node_id in order:
        node = prompt[node_id]
        cls = node_classes[node["class_type"]]
        changed = _is_changed(cls, node["inputs"])
        parts: list[Any] = [node["class_type"], repr(changed)]
        if _depends_on_identity(cls, specs[node["class_type"]]):
            parts.append(node_id)
        key_ok = not _always_rerun(changed)
        for name in sorted(node["inputs"]):
            value = node["inputs"][name]
            if is_link(value):
                source_key = keys.get(str(value[0]))
                key_ok = key_ok and source_key is not None
                parts.append([name, "link", source_key, value[1]])
            else:
                parts.append([name, "value", value])
        keys[node_id] = _digest(parts) if key_ok else None
    return keys


def _is_changed(cls: type, inputs: Mapping[str, Any]) -> Any:
    function = getattr(cls, "IS_CHANGED", None)
    if function is None:
        return None
    names, kwargs = accepted_parameters(function)
    literals = {k: v for k, v in inputs.items() if not is_link(v) and (kwargs or k in names)}
    try:
        return function(**literals)
    except Exception:
        log.warning("IS_CHANGED of %s raised; the node will re-run", cls.__name__, exc_info=True)
        return float("nan")


def _always_rerun(changed: Any) -> bool:
    return isinstance(changed, float) and math.isnan(changed)


def _depends_on_identity(cls: type, specs: Mapping[str, InputSpec]) -> bool:
    # As ComfyUI: nodes that are not idempotent, or that read their own id, are keyed per node.
    if getattr(cls, "NOT_IDEMPOTENT", False):
        return True
    return any(spec.type == "UNIQUE_ID" for spec in specs.values() if spec.category == "hidden")


def _digest(parts: list[Any]) -> str:
    text = json.dumps(parts, sort_keys=True, default=repr, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

"""What the executor needs to know about node classes and prompt graphs.

Node classes use ComfyUI's classic API: `INPUT_TYPES()` returns
`{"required": {name: (type, options)}, "optional": {...}, "hidden": {...}}`,
plus `RETURN_TYPES`, `FUNCTION`, and optionally `OUTPUT_NODE`.
A link in API format is `[source_node_id, output_slot]`.
"""

from __future__ import annotations

import heapq
import inspect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import GraphCycleError

WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN")


@dataclass(frozen=True)
class InputSpec:
    """One declared input: its type (a name, or a list of allowed values for a combo)."""

    name: str
    type: Any
    options: dict[str, Any]
    category: str  # "required", "optional" or "hidden"

    @property
    def is_combo(self) -> bool:
        return isinstance(self.type, (list, tuple))

    @property
    def is_widget(self) -> bool:
        """A value typed in the editor rather than a socket fed by a link."""
        return self.is_combo or self.type in WIDGET_TYPES


def declared_inputs(cls: type) -> dict[str, InputSpec]:
    """The class's inputs in declaration order (required, then optional, then hidden)."""
    spec = cls.INPUT_TYPES()
    result: dict[str, InputSpec] = {}
    for category in ("required", "optional", "hidden"):
        for name, entry in (spec.get(category) or {}).items():
            if _is_type_entry(entry):
                type_ = entry[0]
                options = entry[1] if len(entry) > 1 and isinstance(entry[1], dict) else {}
            else:  # hidden inputs are plain strings such as "UNIQUE_ID"; a bare list is a combo
                type_, options = entry, {}
            result[name] = InputSpec(name, type_, dict(options), category)
    return result


def _is_type_entry(entry: Any) -> bool:
    """`(type, options)` or `(type,)`, as opposed to a bare combo list."""
    if isinstance(entry, tuple):
        return len(entry) >= 1
    return isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], dict)


def accepted_parameters(function: Any) -> tuple[set[str], bool]:
    """Keyword names a class hook (VALIDATE_INPUTS, IS_CHANGED) accepts, and whether it takes **kwargs."""
    if function is None:
        return set(), False
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return set(), True
    params = signature.parameters.values()
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - {"cls", "self"}
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


def return_types(cls: type) -> tuple[str, ...]:
    return tuple(getattr(cls, "RETURN_TYPES", ()) or ())


def is_output_node(cls: type) -> bool:
    return getattr(cls, "OUTPUT_NODE", False) is True


def is_link(value: Any) -> bool:
    """API format marks a link with a list; literal lists must be wrapped in {"__value__": [...]}."""
    return isinstance(value, list)


def well_formed_link(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], (str, int))
        and not isinstance(value[0], bool)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    )


def link_sources(node: Mapping[str, Any]) -> list[str]:
    """Ids of the nodes that `node` takes well-formed links from."""
    inputs = node.get("inputs") or {}
    return [str(v[0]) for v in inputs.values() if well_formed_link(v)]


def node_sort_key(node_id: str) -> tuple[int, int, str]:
    """Numeric ids in numeric order, then the rest alphabetically."""
    return (0, int(node_id), "") if node_id.isdigit() else (1, 0, node_id)


def upstream(prompt: Mapping[str, Any], roots: Iterable[str]) -> set[str]:
    """`roots` and every node they depend on (links to missing nodes are skipped)."""
    seen: set[str] = set()
    stack = [r for r in roots if r in prompt]
    while stack:
        node_id = stack.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        stack.extend(s for s in link_sources(prompt[node_id]) if s in prompt and s not in seen)
    return seen


def find_cycles(prompt: Mapping[str, Any], nodes: Iterable[str]) -> list[list[str]]:
    """Strongly connected groups that form a dependency cycle (Tarjan), each sorted."""
    node_set = set(nodes)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0

    def edges(node_id: str) -> list[str]:
        return [s for s in link_sources(prompt[node_id]) if s in node_set]

    for start in sorted(node_set, key=node_sort_key):
        if start in index:
            continue
        # Iterative Tarjan: (node, iterator over its edges).
        work = [(start, iter(edges(start)))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node_id, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(edges(nxt))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node_id] = min(low[node_id], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node_id])
            if low[node_id] == index[node_id]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node_id:
                        break
                if len(group) > 1 or node_id in edges(node_id):
                    cycles.append(sorted(group, key=node_sort_key))
    return cycles


def topological_order(prompt: Mapping[str, Any], nodes: Iterable[str]) -> list[str]:
    """Dependencies first; among ready nodes the smallest id goes first, so the order is stable.

    The graph must be acyclic (validation guarantees it).
    """
    node_set = set(nodes)
    deps = {n: {s for s in link_sources(prompt[n]) if s in node_set} for n in node_set}
    users: dict[str, list[str]] = {n: [] for n in node_set}
    for node_id, sources in deps.items():
        for source in sources:
            users[source].append(node_id)
    ready = [(node_sort_key(n), n) for n, d in deps.items() if not d]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, node_id = heapq.heappop(ready)
        order.append(node_id)
        for user in users[node_id]:
            deps[user].discard(node_id)
            if not deps[user]:
                heapq.heappush(ready, (node_sort_key(user), user))
    if len(order) != len(node_set):
        raise GraphCycleError("the graph has a dependency cycle")
    return order

"""Converting ComfyUI editor (UI-format) workflows to API format.

Like the editor's own conversion, this needs the node classes: `widgets_values`
is positional, in the INPUT_TYPES order of the widget inputs, with the editor's
extra values in between (the "control after generate" choice after an INT that
asks for one, and the upload button's value after an image picker). Muted nodes
are left out; bypassed, Reroute and Primitive nodes are not supported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.executor.graph import InputSpec, declared_inputs

from .errors import WorkflowFormatError

MODE_MUTED = 2
MODE_BYPASS = 4


def ui_to_api(ui: Mapping[str, Any], node_classes: Mapping[str, type]) -> dict[str, Any]:
    """The API-format prompt the editor would queue for this UI workflow."""
    try:
        links = {link[0]: link for link in ui.get("links") or []}  # [id, src, src_slot, dst, dst_slot, type]
        nodes = list(ui["nodes"])
    except (KeyError, TypeError, IndexError) as exc:
        raise WorkflowFormatError(f"not a UI-format workflow: {exc!r}") from exc
    muted = {node["id"] for node in nodes if node.get("mode", 0) == MODE_MUTED}
    prompt: dict[str, Any] = {}
    for node in nodes:
        mode = node.get("mode", 0)
        if mode == MODE_MUTED:
            continue
        if mode == MODE_BYPASS:
            raise WorkflowFormatError(
                f"node {node['id']} ({node.get('type')}) is bypassed; un-bypass or remove it before converting"
            )
        cls = node_classes.get(node.get("type"))
        if cls is None:
            raise WorkflowFormatError(f"node {node['id']} has type {node.get('type')!r}, which is not a known node class")
        linked = _linked_inputs(node, links, muted)
        widgets = _widget_values(node, cls)
        inputs = {}
        for name in declared_inputs(cls):
            if name in linked:
                inputs[name] = linked[name]
            elif name in widgets:
                inputs[name] = widgets[name]
        prompt[str(node["id"])] = {
            "inputs": inputs,
            "class_type": node["type"],
            "_meta": {"title": node.get("title") or node["type"]},
        }
    return prompt


def _linked_inputs(node: Mapping[str, Any], links: Mapping[int, list[Any]], muted: set[Any]) -> dict[str, list[Any]]:
    linked = {}
    for socket in node.get("inputs") or []:
        link_id = socket.get("link")
        if link_id is None:
            continue
        if link_id not in links:
            raise WorkflowFormatError(
                f"node {node['id']} input {socket.get('name')!r} uses link {link_id}, which is not in 'links'"
            )
        _, source, slot, *_ = links[link_id]
        if source not in muted:
            linked[socket["name"]] = [str(source), slot]
    return linked


def _widget_values(node: Mapping[str, Any], cls: type) -> dict[str, Any]:
    if isinstance(node.get("widgets_values"), dict):  # some packs store widgets by name
        return dict(node["widgets_values"])
    values = list(node.get("widgets_values") or [])
    result = {}
    position = 0
    for spec in declared_inputs(cls).values():
        if spec.category == "hidden" or not _is_widget(spec):
            continue
        if position >= len(values):
            if spec.category == "optional":  # saved before this optional input existed: it keeps its default
                break
            raise WorkflowFormatError(
                f"node {node['id']} ({node['type']}) has {len(values)} widget values; input {spec.name!r} has none"
            )
        value = values[position]
        result[spec.name] = {"__value__": value} if isinstance(value, list) else value
        position += 1 + _editor_extras(spec)
    return result


def _is_widget(spec: InputSpec) -> bool:
    return spec.is_widget and not spec.options.get("forceInput")


def _editor_extras(spec: InputSpec) -> int:
    """Values the editor stores after a widget without sending them to the server."""
    extras = 0
    if spec.type in ("INT", "FLOAT") and spec.options.get("control_after_generate"):
        extras += 1
    if spec.options.get("image_upload") or spec.options.get("video_upload"):
        extras += 1
    return extras

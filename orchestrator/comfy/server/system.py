"""Bodies of /object_info, /system_stats and /features."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

import psutil
import torch

DEFAULT_PYTHON_MODULE = "custom_nodes.comfy_nodes"


def node_info(
    name: str,
    node_class: type,
    display_names: Mapping[str, str] | None = None,
    python_module: str = DEFAULT_PYTHON_MODULE,
) -> dict[str, Any]:
    """One class described as ComfyUI's /object_info describes a classic node."""
    input_types = node_class.INPUT_TYPES()
    outputs = list(getattr(node_class, "RETURN_TYPES", ()))
    info: dict[str, Any] = {
        "input": input_types,
        "input_order": {section: list(entries.keys()) for section, entries in input_types.items()},
        "output": outputs,
        "output_is_list": list(getattr(node_class, "OUTPUT_IS_LIST", [False] * len(outputs))),
        "output_name": list(getattr(node_class, "RETURN_NAMES", outputs)),
        "name": name,
        "display_name": (display_names or {}).get(name, name),
        "description": getattr(node_class, "DESCRIPTION", ""),
        "python_module": python_module,
        "category": getattr(node_class, "CATEGORY", "sd"),
        "output_node": getattr(node_class, "OUTPUT_NODE", False) is True,
    }
    if hasattr(node_class, "OUTPUT_TOOLTIPS"):
        info["output_tooltips"] = list(node_class.OUTPUT_TOOLTIPS)
    if getattr(node_class, "DEPRECATED", False):
        info["deprecated"] = True
    if getattr(node_class, "EXPERIMENTAL", False):
        info["experimental"] = True
    if hasattr(node_class, "API_NODE"):
        info["api_node"] = node_class.API_NODE
    return info


def object_info(
    node_classes: Mapping[str, type],
    display_names: Mapping[str, str] | None = None,
    python_module: str = DEFAULT_PYTHON_MODULE,
) -> dict[str, Any]:
    return {name: node_info(name, cls, display_names, python_module) for name, cls in node_classes.items()}


def _device_stats() -> dict[str, Any]:
    if torch.cuda.is_available():
        index = torch.cuda.current_device()
        free, total = torch.cuda.mem_get_info(index)
        reserved = torch.cuda.memory_reserved(index)
        allocated = torch.cuda.memory_allocated(index)
        return {
            "name": f"cuda:{index} {torch.cuda.get_device_name(index)}",
            "type": "cuda",
            "index": index,
            "vram_total": total,
            "vram_free": free + (reserved - allocated),
            "torch_vram_total": reserved,
            "torch_vram_free": reserved - allocated,
        }
    memory = psutil.virtual_memory()
    return {
        "name": "cpu",
        "type": "cpu",
        "index": None,
        "vram_total": memory.total,
        "vram_free": memory.available,
        "torch_vram_total": memory.total,
        "torch_vram_free": memory.available,
    }


def system_stats(version: str) -> dict[str, Any]:
    """ComfyUI's keys; `comfyui_version` carries this server's version."""
    memory = psutil.virtual_memory()
    return {
        "system": {
            "os": os.name,
            "ram_total": memory.total,
            "ram_free": memory.available,
            "comfyui_version": version,
            "required_frontend_version": None,
            "installed_templates_version": None,
            "required_templates_version": None,
            "python_version": sys.version,
            "pytorch_version": torch.__version__,
            "embedded_python": False,
            "argv": list(sys.argv),
        },
        "devices": [_device_stats()],
    }


def features(max_upload_bytes: int) -> dict[str, Any]:
    return {"supports_preview_metadata": True, "max_upload_size": max_upload_bytes, "extension": {}}

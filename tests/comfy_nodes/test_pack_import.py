"""The pack imports without ComfyUI and exposes every node with full metadata."""

from __future__ import annotations

import json
import subprocess
import sys

import comfy_nodes

EXPECTED = {
    "WanI2VModelLoader", "WanI2VTextEncoderLoader", "WanI2VCLIPVisionLoader", "WanI2VVAELoader",
    "WanI2VTextEncode", "WanI2VImageEncode", "WanI2VSampler", "WanI2VDecode", "WanI2VSaveVideo",
    "WanI2VTeaCache", "WanI2VSageAttention", "LoadImage",
    "WanI2VLoraLoader", "WanI2VMagCache", "WanI2VFirstBlockCache", "WanI2VCache", "WanI2VCompile",
}  # fmt: skip


def test_imports_cleanly_without_comfyui():
    code = (
        "import json, logging, sys\n"
        "records = []\n"
        "logging.basicConfig(level=logging.WARNING)\n"
        "logging.getLogger().addHandler(type('H', (logging.Handler,), {'emit': lambda self, r: records.append(r.getMessage())})())\n"
        "import comfy_nodes\n"
        "print(json.dumps({'in_comfyui': comfy_nodes.host.IN_COMFYUI, 'nodes': sorted(comfy_nodes.NODE_CLASS_MAPPINGS),"
        " 'warnings': [m for m in records if 'WAN I2V' in m]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["in_comfyui"] is False
    assert set(report["nodes"]) == EXPECTED
    assert report["warnings"] == []


def test_every_node_has_classic_api_metadata_and_tooltips():
    for name, cls in comfy_nodes.NODE_CLASS_MAPPINGS.items():
        assert name in comfy_nodes.NODE_DISPLAY_NAME_MAPPINGS
        assert callable(getattr(cls(), cls.FUNCTION))
        assert isinstance(cls.RETURN_TYPES, tuple)
        spec = cls.INPUT_TYPES()
        if name == "LoadImage":  # mirrors ComfyUI's core node
            continue
        assert cls.CATEGORY.startswith("WAN I2V"), name
        assert getattr(cls, "DESCRIPTION", ""), name
        for section in ("required", "optional"):
            for input_name, entry in spec.get(section, {}).items():
                assert len(entry) == 2 and entry[1].get("tooltip"), f"{name}.{input_name} has no tooltip"


def test_custom_types_connect():
    """Every WAN_* input type is produced by some node."""
    produced = {t for cls in comfy_nodes.NODE_CLASS_MAPPINGS.values() for t in cls.RETURN_TYPES}
    for cls in comfy_nodes.NODE_CLASS_MAPPINGS.values():
        for section in cls.INPUT_TYPES().values():
            for entry in section.values():
                if isinstance(entry[0], str) and entry[0].startswith("WAN_"):
                    assert entry[0] in produced

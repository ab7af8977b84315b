"""What the follower ranks of a split server run of each released workflow (orchestrator/comfy/server/ranks.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comfy_nodes import NODE_CLASS_MAPPINGS
from orchestrator.executor import ValidatedPrompt
from orchestrator.executor.graph import is_output_node, upstream

WORKFLOWS = Path(__file__).resolve().parents[3] / "workflows"


@pytest.mark.parametrize("api", sorted(WORKFLOWS.glob("*/*/api.json")), ids=lambda p: f"{p.parts[-3]}@{p.parts[-2]}")
def test_followers_run_the_sampler_and_its_inputs_but_neither_decode_nor_save(api: Path) -> None:
    prompt = json.loads(api.read_text())
    outputs = [n for n, node in prompt.items() if is_output_node(NODE_CLASS_MAPPINGS[node["class_type"]])]
    part = ValidatedPrompt(prompt, outputs).for_followers(NODE_CLASS_MAPPINGS)
    followed = {prompt[n]["class_type"] for n in upstream(prompt, part.outputs)}
    assert [prompt[n]["class_type"] for n in part.outputs] == ["WanI2VSampler"]
    assert {"WanI2VModelLoader", "WanI2VTextEncode", "WanI2VImageEncode"} <= followed
    assert not followed & {"WanI2VDecode", "WanI2VSaveVideo"}, followed

"""What the follower ranks of a split run execute of each released workflow (orchestrator/executor/followers.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from comfy_nodes import NODE_CLASS_MAPPINGS, host
from orchestrator.executor import ValidatedPrompt
from orchestrator.executor.followers import SENT_PREFIX, followers_part
from orchestrator.executor.graph import is_output_node, upstream

WORKFLOWS = Path(__file__).resolve().parents[3] / "workflows"
ENCODERS = {"LoadImage", "WanI2VTextEncoderLoader", "WanI2VCLIPVisionLoader", "WanI2VVAELoader", "WanI2VTextEncode",
            "WanI2VImageEncode"}  # fmt: skip


@pytest.mark.parametrize("api", sorted(WORKFLOWS.glob("*/*/api.json")), ids=lambda p: f"{p.parts[-3]}@{p.parts[-2]}")
def test_followers_build_the_model_and_sample_but_neither_decode_nor_save(api: Path, tmp_path: Path) -> None:
    prompt = json.loads(api.read_text())
    # LoadImage's cache key hashes the file; a missing one would be "always re-run" (kept on the followers).
    for node in prompt.values():
        if node["class_type"] == "LoadImage":
            Image.new("RGB", (64, 48)).save(tmp_path / node["inputs"]["image"])
    outputs = [n for n, node in prompt.items() if is_output_node(NODE_CLASS_MAPPINGS[node["class_type"]])]
    validated = ValidatedPrompt(prompt, outputs)

    encoding = followers_part(validated, NODE_CLASS_MAPPINGS, inputs_sent=False)  # `wan-i2v run --cp-ulysses`
    followed = {prompt[n]["class_type"] for n in upstream(prompt, encoding.outputs)}
    assert [prompt[n]["class_type"] for n in encoding.outputs] == ["WanI2VSampler"]
    assert {"WanI2VModelLoader", "WanI2VSampler"} | ENCODERS <= followed
    assert not followed & {"WanI2VDecode", "WanI2VSaveVideo"}, followed

    with host.io_dirs_set_to(input=tmp_path, output=tmp_path, temp=tmp_path):
        sent = followers_part(validated, NODE_CLASS_MAPPINGS, inputs_sent=True)  # a split server: rank 0 encodes
    (sampler,) = sent.outputs
    followed = {sent.prompt[n]["class_type"] for n in upstream(sent.prompt, sent.outputs)}
    assert "WanI2VModelLoader" in followed and not followed & (ENCODERS | {"WanI2VDecode", "WanI2VSaveVideo"}), followed
    inputs = sent.prompt[sampler]["inputs"]
    assert inputs["model"] == prompt[sampler]["inputs"]["model"]
    assert inputs["text_embeds"].startswith(SENT_PREFIX) and inputs["image_embeds"].startswith(SENT_PREFIX)
    assert prompt[sampler]["inputs"]["text_embeds"] == validated.prompt[sampler]["inputs"]["text_embeds"]  # not rewritten


def test_an_input_from_a_node_that_always_reruns_stays_a_link(tmp_path: Path) -> None:
    """A missing start image makes LoadImage "always re-run" (no cache key): rank 0's sampler is then never
    cached, so the followers keep the image branch, and their sampler is never cached either."""
    prompt = json.loads((WORKFLOWS / "i2v_480p" / "3" / "api.json").read_text())
    outputs = [n for n, node in prompt.items() if is_output_node(NODE_CLASS_MAPPINGS[node["class_type"]])]
    with host.io_dirs_set_to(input=tmp_path, output=tmp_path, temp=tmp_path):
        sent = followers_part(ValidatedPrompt(prompt, outputs), NODE_CLASS_MAPPINGS, inputs_sent=True)
    (sampler,) = sent.outputs
    inputs = sent.prompt[sampler]["inputs"]
    assert inputs["image_embeds"] == prompt[sampler]["inputs"]["image_embeds"]  # still the link
    assert inputs["text_embeds"].startswith(SENT_PREFIX)

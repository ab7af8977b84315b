"""Loader nodes report their file's size and time as IS_CHANGED: a cached model is reused while its
file stays as it was, and loads again when the file is replaced (in ComfyUI and the embedded server)."""

from __future__ import annotations

import os
import shutil

import comfy_nodes
from comfy_nodes.nodes.loaders import WanI2VModelLoader, WanI2VVAELoader
from orchestrator.executor.cache import node_keys
from orchestrator.executor.graph import declared_inputs


def _vae_key(name: str) -> str | None:
    """The output cache's key for a VAE loader node (what decides reuse between prompts)."""
    prompt = {"1": {"class_type": "WanI2VVAELoader", "inputs": {"model_name": name, "compute_dtype": "fp32", "tile_size": 0}}}
    classes = comfy_nodes.NODE_CLASS_MAPPINGS
    return node_keys(prompt, ["1"], classes, {"WanI2VVAELoader": declared_inputs(classes["WanI2VVAELoader"])})["1"]


def test_a_replaced_model_file_loads_again_and_an_untouched_one_is_reused(host_dirs, demo_paths):
    mine = demo_paths["vae"].parent / "changing_vae.safetensors"
    shutil.copyfile(demo_paths["vae"], mine)
    try:
        first = _vae_key(mine.name)
        assert first is not None and _vae_key(mine.name) == first  # untouched: the cached VAE is reused
        stat = mine.stat()
        os.utime(mine, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # the file was replaced
        assert _vae_key(mine.name) not in (None, first)  # another key: it loads again
    finally:
        mine.unlink()


def test_is_changed_takes_every_input_as_comfyui_passes_them(host_dirs, demo_paths):
    # ComfyUI calls IS_CHANGED with all of a node's inputs as keywords.
    name = demo_paths["diffusion_models"].name
    stamp = WanI2VModelLoader.IS_CHANGED(model_name=name, compute_dtype="auto", weight_dtype="default",
                                         offload="none", attention="sdpa")  # fmt: skip
    assert stamp == WanI2VModelLoader.IS_CHANGED(model_name=name) != "missing"
    assert WanI2VVAELoader.IS_CHANGED(model_name="absent.safetensors", tile_size=0) == "missing"

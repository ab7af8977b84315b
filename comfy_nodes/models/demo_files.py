"""Where the demo model's files are, without importing torch (the orchestrator's API process reads this)."""

from __future__ import annotations

from pathlib import Path

DEMO_NOTICE = "Tiny random-weight demo model: its videos are noise, not real generations."

FILES = {
    "diffusion_models": "wan2.1_i2v_480p_demo_tiny.safetensors",
    "text_encoders": "umt5_demo_tiny.safetensors",
    "clip_vision": "clip_vision_demo_tiny.safetensors",
    "vae": "wan_2.1_vae_demo_tiny.safetensors",
    "loras": "wan2.1_i2v_lora_demo_tiny.safetensors",  # stands in for the fast workflows' distillation LoRA
}
DIFFUSERS_FOLDER = "Wan2.1-I2V-demo-tiny-480P-Diffusers"
# What a run on the demo model defaults to: a small clip, quick on a CPU (the workflows' own sizes take minutes there).
SIZE = {"resolution": "custom", "width": 256, "height": 144, "num_frames": 17, "steps": 8}


def demo_paths(root: Path) -> dict[str, Path]:
    """Where make_demo_model puts each component under `root`."""
    paths = {kind: root / kind / name for kind, name in FILES.items()}
    paths["diffusers"] = root / "diffusers" / DIFFUSERS_FOLDER
    return paths


def is_complete(root: Path) -> bool:
    paths = demo_paths(root)
    return all(p.exists() for p in paths.values()) and (paths["diffusers"] / "model_index.json").exists()

"""A workflow names the bf16 files; the same files at another precision (what `models download
--precision fp8` writes) stand in for them, in `wan-i2v run` and in the job service alike."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from orchestrator.jobs.submit import model_files
from orchestrator.runner import RunRequest, plan_run
from orchestrator.workflows import get_workflow

FP8_FILES = {
    "diffusion_models": "wan2.1_i2v_480p_14B_fp8_scaled.safetensors",
    "text_encoders": "umt5_xxl_fp8_e4m3fn_scaled.safetensors",
    "clip_vision": "clip_vision_h.safetensors",
    "vae": "wan_2.1_vae.safetensors",
}


def _fp8_folder(root: Path) -> Path:
    for kind, name in FP8_FILES.items():
        (root / kind).mkdir(parents=True)
        (root / kind / name).write_bytes(b"")  # only the names matter before loading
    return root


def test_the_job_service_binds_the_fp8_files_it_finds(tmp_path: Path) -> None:
    chosen = model_files(get_workflow("i2v_480p"), _fp8_folder(tmp_path / "models"))
    assert chosen == {"diffusion_model": FP8_FILES["diffusion_models"], "text_encoder": FP8_FILES["text_encoders"]}
    # With the named files there, nothing is replaced.
    (tmp_path / "models/diffusion_models/wan2.1_i2v_480p_14B_bf16.safetensors").write_bytes(b"")
    assert "diffusion_model" not in model_files(get_workflow("i2v_480p"), tmp_path / "models")


def test_run_plans_with_the_fp8_files_and_says_so(tmp_path: Path, host_dirs) -> None:
    models = _fp8_folder(tmp_path / "models")
    Image.new("RGB", (160, 120), (200, 120, 40)).save(tmp_path / "cat.png")
    plan = plan_run(RunRequest("i2v_480p", tmp_path / "cat.png", tmp_path / "cat.mp4", models, {"prompt": "a cat"}))
    loaders = {node["class_type"]: node["inputs"]["model_name"] for node in plan.prompt.values()
               if node["class_type"] in ("WanI2VModelLoader", "WanI2VTextEncoderLoader")}  # fmt: skip
    assert loaders == {"WanI2VModelLoader": FP8_FILES["diffusion_models"],
                       "WanI2VTextEncoderLoader": FP8_FILES["text_encoders"]}  # fmt: skip
    assert plan.preset is None
    assert any(FP8_FILES["diffusion_models"] in note for note in plan.notes)
    # A file the user names is used as named (and its absence is an error, not a swap).
    explicit = plan_run(RunRequest("i2v_480p", tmp_path / "cat.png", tmp_path / "c2.mp4", models,
                                   {"diffusion_model": FP8_FILES["diffusion_models"]}))  # fmt: skip
    assert not any("precision" in note for note in explicit.notes if "diffusion" in note)

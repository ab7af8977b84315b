"""`wan-i2v models check`: needed files, what is there (size, dtype, architecture), what is missing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from deploy_safetensors import (  # noqa: E402
    clip_h_header,
    umt5_header,
    vae_header,
    wan_14b_i2v_header,
    write_safetensors,
)

from orchestrator.cli.main import app  # noqa: E402
from orchestrator.deploy.errors import SafetensorsHeaderError  # noqa: E402
from orchestrator.deploy.safetensors_header import read_header  # noqa: E402

WORKFLOW_FILES = {
    "diffusion_models/wan2.1_i2v_480p_14B_bf16.safetensors": wan_14b_i2v_header,
    "text_encoders/umt5_xxl_fp16.safetensors": umt5_header,
    "clip_vision/clip_vision_h.safetensors": clip_h_header,
    "vae/wan_2.1_vae.safetensors": vae_header,
}


def _check(models: Path, *extra: str) -> tuple[int, dict]:
    result = CliRunner().invoke(app, ["models", "check", "--models", str(models), "--json", *extra])
    return result.exit_code, json.loads(result.output)


def _files(report: dict) -> dict[str, dict]:
    return {f["parameter"]: f for f in report["files"]}


def _real_layout(root: Path, **replace: dict) -> Path:
    for rel, header in WORKFLOW_FILES.items():
        write_safetensors(root / rel, replace.get(rel.split("/")[0], header()))
    return root


def test_the_demo_model_stands_in_and_is_described(demo_models: Path) -> None:
    code, out = _check(demo_models, "--workflow", "i2v_480p")
    assert code == 0 and out["ok"]
    [report] = out["workflows"]
    files = _files(report)
    assert {f["status"] for f in files.values()} == {"demo"}
    assert files["diffusion_model"]["path"] == "diffusion_models/wan2.1_i2v_480p_demo_tiny.safetensors"
    assert files["diffusion_model"]["architecture"].startswith("WAN 2.1 I2V transformer")
    assert files["vae"]["architecture"].startswith("WAN 2.1 VAE")
    assert files["text_encoder"]["architecture"].startswith("umT5")
    assert "tokenizer inside" in files["text_encoder"]["architecture"]
    assert files["clip_vision"]["architecture"].startswith("CLIP vision")
    assert files["diffusion_model"]["dtype"] == "F32"
    for f in files.values():
        assert f["size"] == (demo_models / f["path"]).stat().st_size
    # the real weights are still missing: say how to fetch them
    assert report["fetch"] == f"wan-i2v models download --variant i2v-14b-480p --precision bf16 --dest {demo_models}"
    [folder] = out["diffusers"]
    assert folder["complete"] and "36 input channels" in folder["architecture"]


def test_the_demo_model_in_plain_text(demo_models: Path) -> None:
    result = CliRunner().invoke(app, ["models", "check", "--models", str(demo_models)])
    assert result.exit_code == 0, result.output
    assert "i2v_480p@3" in result.output and "i2v_720p@3" in result.output  # the latest versions
    assert "the demo model stands in" in result.output
    assert "--variant i2v-14b-720p" in result.output
    assert "noise" in result.output  # the demo notice


def test_an_empty_folder_lists_every_file_as_missing_with_the_command(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["models", "check", "--models", str(tmp_path), "--workflow", "i2v_720p"])
    assert result.exit_code == 1
    assert result.output.count("MISSING") == 4
    assert "diffusion_models/wan2.1_i2v_720p_14B_bf16.safetensors" in result.output
    assert f"wan-i2v models download --variant i2v-14b-720p --precision bf16 --dest {tmp_path}" in result.output


def test_real_layout_files_are_recognised(tmp_path: Path) -> None:
    code, out = _check(_real_layout(tmp_path), "--workflow", "i2v_480p")
    assert code == 0, out
    files = _files(out["workflows"][0])
    assert {f["status"] for f in files.values()} == {"present"}
    assert "14B: dim 5120, 40 layers" in files["diffusion_model"]["architecture"]
    assert files["diffusion_model"]["dtype"].startswith("BF16")
    assert "umT5-XXL: d_model 4096, 24 layers" in files["text_encoder"]["architecture"]
    assert "ViT-H/14: width 1280, 32 layers" in files["clip_vision"]["architecture"]
    assert "base dim 96, 16 latent channels" in files["vae"]["architecture"]
    assert out["workflows"][0]["fetch"] is None


def test_a_prefixed_fp8_scaled_transformer_is_recognised(tmp_path: Path) -> None:
    header = wan_14b_i2v_header("F8_E4M3", prefix="model.diffusion_model.")
    header["model.diffusion_model.head.head.scale_weight"] = ("F32", (1,))
    code, out = _check(_real_layout(tmp_path, diffusion_models=header), "--workflow", "i2v_480p")
    assert code == 0
    arch = _files(out["workflows"][0])["diffusion_model"]["architecture"]
    assert "14B" in arch and arch.endswith("fp8 scaled")


@pytest.mark.parametrize(
    ("header", "said"),
    [
        (vae_header(), "WAN 2.1 VAE"),
        ({k: v for k, v in wan_14b_i2v_header().items() if not k.startswith("img_emb")}, "text-to-video (T2V)"),
        ({**wan_14b_i2v_header(), "patch_embedding.weight": ("BF16", (5120, 16, 1, 2, 2))}, "16 input channels"),
    ],
)
def test_a_wrong_file_in_a_slot_is_flagged(tmp_path: Path, header: dict, said: str) -> None:
    code, out = _check(_real_layout(tmp_path, diffusion_models=header), "--workflow", "i2v_480p")
    assert code == 1 and not out["ok"]
    entry = _files(out["workflows"][0])["diffusion_model"]
    assert entry["status"] == "wrong"
    assert "is not a diffusion_models file" in entry["problem"] and said in entry["problem"]


def test_a_file_that_is_not_safetensors_is_flagged(tmp_path: Path) -> None:
    _real_layout(tmp_path)
    (tmp_path / "vae" / "wan_2.1_vae.safetensors").write_bytes(b"<html>rate limited</html>")
    code, out = _check(tmp_path, "--workflow", "i2v_480p")
    assert code == 1
    assert "not a safetensors file" in _files(out["workflows"][0])["vae"]["problem"]


def test_unknown_workflow_and_missing_folder_are_errors(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["models", "check", "--models", str(tmp_path), "--workflow", "t2v"])
    assert result.exit_code == 1 and "No workflow named 't2v'" in result.output
    result = CliRunner().invoke(app, ["models", "check", "--models", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "does not exist" in result.output and "models download" in result.output


def test_the_header_reader_agrees_with_the_safetensors_library(demo_paths: dict[str, Path]) -> None:
    from safetensors import safe_open

    path = demo_paths["text_encoders"]
    header = read_header(path)
    with safe_open(str(path), framework="pt") as f:
        names = set(f.keys())
        assert names == set(header.tensors)
        for name in list(names)[:20]:
            piece = f.get_slice(name)
            assert tuple(piece.get_shape()) == header.tensors[name].shape
            assert piece.get_dtype() == header.tensors[name].dtype
        assert f.metadata() == header.metadata


def test_the_header_reader_refuses_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "x.safetensors"
    for content in (b"", b"\xff" * 16, (4).to_bytes(8, "little") + b"[1]x"):
        bad.write_bytes(content)
        with pytest.raises(SafetensorsHeaderError):
            read_header(bad)


def test_the_fp8_download_satisfies_the_bf16_workflow(tmp_path: Path) -> None:
    # What `models download --precision fp8` writes: other file names than the workflow's defaults.
    write_safetensors(tmp_path / "diffusion_models/wan2.1_i2v_480p_14B_fp8_scaled.safetensors",
                      wan_14b_i2v_header("F8_E4M3"))  # fmt: skip
    write_safetensors(tmp_path / "text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors", umt5_header())
    write_safetensors(tmp_path / "clip_vision/clip_vision_h.safetensors", clip_h_header())
    write_safetensors(tmp_path / "vae/wan_2.1_vae.safetensors", vae_header())
    code, out = _check(tmp_path, "--workflow", "i2v_480p")
    assert code == 0, out
    files = _files(out["workflows"][0])
    assert files["diffusion_model"]["path"] == "diffusion_models/wan2.1_i2v_480p_14B_fp8_scaled.safetensors"
    assert files["text_encoder"]["path"] == "text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors"
    assert {f["status"] for f in files.values()} == {"present"} and out["workflows"][0]["fetch"] is None
    # The 720p workflow does not take the 480p transformer: another model, not another precision.
    code, out = _check(tmp_path, "--workflow", "i2v_720p")
    assert code == 1 and _files(out["workflows"][0])["diffusion_model"]["status"] == "missing"


def test_the_fast_workflow_says_how_to_fetch_its_lora(tmp_path: Path) -> None:
    code, out = _check(tmp_path, "--workflow", "i2v_480p_fast")
    assert code == 1
    [report] = out["workflows"]
    assert _files(report)["distill_lora"]["status"] == "missing"
    assert report["fetch"] == (
        f"wan-i2v models download --variant i2v-14b-480p --precision bf16 --distill-lora --dest {tmp_path}"
    )
    # With the base files in place only the LoRA is left to fetch.
    _real_layout(tmp_path)
    code, out = _check(tmp_path, "--workflow", "i2v_480p_fast")
    assert code == 1 and out["workflows"][0]["fetch"] == f"wan-i2v models download --distill-lora --dest {tmp_path}"

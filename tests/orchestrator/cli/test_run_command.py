"""`wan-i2v run` end to end on the demo model, and its handling of bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from comfy_nodes.video.ffmpeg import probe_video
from orchestrator.cli.demo import demo_model_params
from orchestrator.cli.main import app

SMALL = {"resolution": "custom", "width": "64", "height": "48", "num_frames": "9", "steps": "2"}


def _sets(params: dict[str, str]) -> list[str]:
    return [arg for name, value in params.items() for arg in ("--set", f"{name}={value}")]


@pytest.fixture
def start_image(tmp_path: Path) -> Path:
    path = tmp_path / "start.png"
    Image.new("RGB", (80, 60), (200, 120, 40)).save(path)
    return path


def _invoke(args: list[str]):
    return CliRunner().invoke(app, args)


@pytest.mark.e2e
def test_run_writes_the_mp4_and_a_json_summary(demo_models, start_image, tmp_path):
    out = tmp_path / "video.mp4"
    args = ["run", "i2v_480p", "--image", str(start_image), "--prompt", "a boat", "--models", str(demo_models),
            "--out", str(out), "--json", *_sets({**demo_model_params(), **SMALL})]  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "orchestrator.cli.main", *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    info = probe_video(out)
    assert (info.codec, info.width, info.height, info.num_frames, info.fps) == ("h264", 64, 48, 9, 16.0)
    assert info.pix_fmt == "yuv420p"
    assert summary["video"] == str(out) and Path(summary["poster"]).exists()
    assert summary["workflow"] == "i2v_480p@3"  # the latest release
    assert summary["parameters"]["steps"] == 2
    assert {t["class_type"] for t in summary["timings"].values()} >= {"WanI2VSampler", "WanI2VDecode", "WanI2VSaveVideo"}
    assert summary["sampler"]["passes"]["cond"] == {"computed": 2, "skipped": 0}
    assert summary["sampler"]["attention"] == "sdpa"


@pytest.mark.e2e
def test_palette_and_greyscale_images_are_converted(demo_models, tmp_path):
    for mode in ("P", "L", "RGBA"):
        image = tmp_path / f"start_{mode}.png"
        Image.new("RGB", (80, 60), (10, 200, 90)).convert(mode).save(image)
        out = tmp_path / f"{mode}.mp4"
        result = _invoke(["run", "i2v_480p", "--image", str(image), "--prompt", "x", "--models", str(demo_models),
                          "--out", str(out), *_sets({**demo_model_params(), **SMALL, "steps": "1"})])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert probe_video(out).num_frames == 9


def _run_error(demo_models: Path, image: Path, tmp_path: Path, params: dict[str, str], *extra: str) -> str:
    result = _invoke(["run", "i2v_480p", "--image", str(image), "--prompt", "x", "--models", str(demo_models),
                      "--out", str(tmp_path / "x.mp4"), *_sets(params), *extra])  # fmt: skip
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert not (tmp_path / "x.mp4").exists()
    return result.output


def test_missing_model_names_the_file_and_folder(demo_models, start_image, tmp_path):
    # --preset workflow: the workflow's own 14B file names, which the demo folder does not hold
    output = _run_error(demo_models, start_image, tmp_path, {**SMALL}, "--preset", "workflow")
    assert "wan2.1_i2v_480p_14B_bf16.safetensors" in output
    assert str(demo_models / "diffusion_models") in output


def test_num_frames_not_4n_plus_1_suggests_valid_values(demo_models, start_image, tmp_path):
    output = _run_error(demo_models, start_image, tmp_path, {**demo_model_params(), **SMALL, "num_frames": "10"})
    assert "9" in output and "13" in output and "num_frames" in output


def test_out_of_range_parameter_names_the_bounds(demo_models, start_image, tmp_path):
    output = _run_error(demo_models, start_image, tmp_path, {**demo_model_params(), **SMALL, "steps": "5000"})
    assert "steps" in output and "200" in output


def test_unknown_parameter_is_refused(demo_models, start_image, tmp_path):
    output = _run_error(demo_models, start_image, tmp_path, {**demo_model_params(), "stepz": "3"})
    assert "stepz" in output


def test_non_image_input_is_refused(demo_models, tmp_path):
    bogus = tmp_path / "notes.png"
    bogus.write_text("this is not an image")
    output = _run_error(demo_models, bogus, tmp_path, {**demo_model_params(), **SMALL})
    assert "notes.png" in output


def test_bad_set_syntax(demo_models, start_image, tmp_path):
    result = _invoke(["run", "i2v_480p", "--image", str(start_image), "--prompt", "x", "--models", str(demo_models),
                      "--out", str(tmp_path / "x.mp4"), "--set", "steps"])  # fmt: skip
    assert result.exit_code != 0 and "name=value" in result.output


@pytest.mark.e2e
def test_summary_reports_teacache_and_attention(demo_models, start_image, tmp_path):
    from orchestrator.runner import RunRequest, run_workflow

    # A run pinned to version 1, which sets TeaCache through teacache_threshold.
    params = {**demo_model_params(), **SMALL, "steps": "6", "teacache_threshold": "0.3", "attention": "sage", "prompt": "x"}
    summary = run_workflow(RunRequest("i2v_480p@1", start_image, tmp_path / "t.mp4", demo_models, params))
    assert summary["workflow"] == "i2v_480p@1"
    sampler = summary["sampler"]
    assert sampler["teacache_threshold"] == 0.3
    for branch in ("cond", "uncond"):
        counts = sampler["passes"][branch]
        assert counts["computed"] + counts["skipped"] == 6 and counts["computed"] >= 2  # first and last always run
    assert sampler["attention"] == "sdpa" and "CUDA" in sampler["attention_fallback_reason"]


@pytest.mark.e2e
def test_set_cache_picks_the_cache_and_the_summary_counts_its_skips(demo_models, start_image, tmp_path):
    out = tmp_path / "mag.mp4"
    result = _invoke(["run", "i2v_480p", "--image", str(start_image), "--prompt", "x", "--models", str(demo_models),
                      "--out", str(out), "--json", *_sets({**demo_model_params(), **SMALL, "steps": "8", "cache": "magcache"})])  # fmt: skip
    assert result.exit_code == 0, result.output
    sampler = json.loads(result.output.strip().splitlines()[-1])["sampler"]
    assert sampler["cache"]["kind"] == "magcache" and sampler["cache"]["threshold"] == 0.24  # 0 = published
    assert sum(b["skipped"] for b in sampler["passes"].values()) > 0
    bad = _invoke(["run", "i2v_480p", "--image", str(start_image), "--prompt", "x", "--models", str(demo_models),
                   "--out", str(tmp_path / "bad.mp4"), "--set", "cache=teacach"])  # fmt: skip
    assert bad.exit_code != 0 and "Parameter 'cache' is not one of the allowed values" in bad.output
    assert "none, teacache, magcache, fbc" in bad.output


@pytest.mark.e2e
def test_poster_never_overwrites_the_input_image(demo_models, tmp_path):
    image = tmp_path / "cat.png"
    Image.new("RGB", (80, 60), (200, 120, 40)).save(image)
    before = image.read_bytes()
    result = _invoke(["run", "i2v_480p", "--image", str(image), "--prompt", "x", "--models", str(demo_models),
                      "--out", str(tmp_path / "cat.mp4"), *_sets({**demo_model_params(), **SMALL, "steps": "1"})])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert image.read_bytes() == before
    assert (tmp_path / "cat.poster.png").exists() and "cat.poster.png" in result.output


@pytest.mark.parametrize(
    ("out_name", "params", "expected"),
    [
        ("video.avi", {}, ".mp4 or .webm"),
        ("video.mp4", {"format": "webm"}, "disagrees"),
        ("folder", {}, "is a folder"),
        ("note.txt/video.mp4", {}, "note.txt is a file, not a folder"),
        ("locked/video.mp4", {}, "locked does not take files"),
    ],
)
def test_output_path_and_format_are_checked(demo_models, start_image, tmp_path, out_name, params, expected):
    """Before anything loads: a run must not spend minutes on a video it cannot write."""
    (tmp_path / "folder").mkdir()
    (tmp_path / "note.txt").write_text("x")
    (tmp_path / "locked").symlink_to("/proc")  # takes no files, even as root
    result = _invoke(["run", "i2v_480p", "--image", str(start_image), "--prompt", "x", "--models", str(demo_models),
                      "--out", str(tmp_path / out_name), *_sets({**demo_model_params(), **params})])  # fmt: skip
    assert result.exit_code == 1 and expected in result.output and "Traceback" not in result.output


def test_model_names_cannot_leave_the_models_folder(demo_models, start_image, tmp_path):
    for name in ("/etc/passwd", "../vae/wan_2.1_vae_demo_tiny.safetensors"):
        output = _run_error(demo_models, start_image, tmp_path, {**demo_model_params(), **SMALL, "vae": name})
        assert "inside the models folder" in output

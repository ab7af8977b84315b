"""`wan-i2v run` as a new user meets it: the demo preset, workflow files, early errors, plain progress."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from comfy_nodes.video.ffmpeg import probe_video
from orchestrator.cli.run import Progress
from orchestrator.runner import default_out, poster_path
from orchestrator.workflows import get_workflow

ROOT = Path(__file__).resolve().parents[3]

# Runs the CLI in a fresh interpreter and reports on stderr whether torch was imported by the end.
_TORCH_PROBE = (
    "import runpy, sys\n"
    "sys.argv = ['wan-i2v', *sys.argv[1:]]\n"
    "code = 0\n"
    "try:\n"
    "    runpy.run_module('orchestrator.cli.main', run_name='__main__')\n"
    "except SystemExit as exc:\n"
    "    code = exc.code\n"
    "print('TORCH-IMPORTED' if 'torch' in sys.modules else 'TORCH-NOT-IMPORTED', file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def _cli(args: list[str], cwd: Path, probe: bool = False, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("WAN_MODELS_DIR", None)
    command = [sys.executable, "-c", _TORCH_PROBE, *args] if probe else [sys.executable, "-m", "orchestrator.cli.main", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def workdir(tmp_path: Path, demo_models: Path) -> Path:
    """A folder as `wan-i2v models make-demo models` leaves it, plus a start image."""
    (tmp_path / "models").symlink_to(demo_models, target_is_directory=True)
    Image.new("RGB", (160, 120), (200, 120, 40)).save(tmp_path / "cat.png")
    return tmp_path


@pytest.mark.e2e
def test_run_image_with_no_flags_uses_the_demo_preset_and_says_so(workdir: Path) -> None:
    proc = _cli(["run", "cat.png", "--prompt", "a cat turns its head", "--json"], workdir)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["preset"] == "demo" and summary["workflow"] == "i2v_480p@3"
    assert Path(summary["video"]) == workdir / "cat.mp4"
    info = probe_video(workdir / "cat.mp4")
    assert (info.width, info.height, info.num_frames) == (256, 144, 17)
    assert summary["parameters"]["diffusion_model"] == "wan2.1_i2v_480p_demo_tiny.safetensors"
    assert "demo model preset" in proc.stderr and "noise" in proc.stderr
    assert "Running i2v_480p@3, 256x144, 17 frames, 8 steps" in proc.stderr
    # Not a terminal: plain lines, no carriage-return bars; encode and decode report progress too.
    assert "\r" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert "  WanI2VImageEncode 5/5" in lines and "  WanI2VDecode 5/5" in lines and "  WanI2VSampler 8/8" in lines
    # A second run never overwrites the first video.
    again = _cli(["run", "cat.png", "--prompt", "x", "--set", "steps=1", "--json"], workdir)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.strip().splitlines()[-1])["video"] == str(workdir / "cat-2.mp4")


@pytest.mark.e2e
def test_an_api_format_workflow_file_runs(workdir: Path) -> None:
    api = get_workflow("i2v_480p").api
    (workdir / "mine_api.json").write_text(json.dumps(api))
    sets = ["9.resolution=custom", "9.width=64", "9.height=48", "9.num_frames=5", "10.steps=2"]
    args = ["run", "mine_api.json", "cat.png", "--prompt", "a boat", "--out", "boat.webm", "--json"]
    proc = _cli([*args, *[a for s in sets for a in ("--set", s)]], workdir)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["workflow"] == "mine_api.json" and summary["preset"] == "demo"
    assert summary["parameters"]["10.steps"] == 2 and summary["parameters"]["8.prompt"] == "a boat"
    info = probe_video(workdir / "boat.webm")
    assert (info.codec, info.width, info.height, info.num_frames) == ("vp9", 64, 48, 5)
    assert summary["sampler"]["passes"]["cond"]["computed"] == 2


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "missing.png", "--prompt", "x"], "missing.png' does not exist"),
        (["run", "notes.png", "--prompt", "x"], "Cannot read 'notes.png' as an image"),
        (["run", "cat.png", "--prompt", "x", "--set", "steps"], "name=value"),
        (["run", "cat.png", "--prompt", "x", "--set", "stepz=3"], "did you mean 'steps'"),
        (["run", "cat.png", "--prompt", "x", "--set", "num_frames=10"], "(e.g. 9 or 13)"),
        (["run", "cat.png", "--prompt", "x", "--out", "cat.avi"], ".mp4 or .webm"),
        (["run", "cat.png", "--prompt", "x", "--models", "nowhere"], "models folder nowhere does not exist"),
        (["run", "cat.png", "--prompt", "x", "--preset", "workflow"], "wan2.1_i2v_480p_14B_bf16.safetensors in"),
        (["run", "i2v_480p", "--prompt", "x"], "give the start image"),
        (["run", "ui.json", "cat.png", "--prompt", "x"], "Export (API)"),
        (["run", "api.json", "cat.png", "--prompt", "x", "--set", "99.steps=3"], "has no node 99"),
        (["run", "i2v_480p_fast", "cat.png", "-p", "x", "--preset", "demo", "--set", "distill_lora=nope.safetensors"],
         "nope.safetensors in"),
    ],
)
def test_bad_input_is_reported_before_torch_loads(workdir: Path, args: list[str], expected: str) -> None:
    (workdir / "notes.png").write_text("not an image")
    (workdir / "ui.json").write_text(json.dumps(get_workflow("i2v_480p").ui))
    (workdir / "api.json").write_text(json.dumps(get_workflow("i2v_480p").api))
    proc = _cli(args, workdir, probe=True, timeout=120)
    assert proc.returncode != 0
    assert expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().endswith("TORCH-NOT-IMPORTED"), proc.stderr


def test_missing_files_are_listed_once_each_with_the_demo_hint(workdir: Path) -> None:
    proc = _cli(["run", "cat.png", "--prompt", "x", "--preset", "workflow"], workdir, probe=True, timeout=120)
    assert proc.returncode == 1
    for name in ("wan2.1_i2v_480p_14B_bf16.safetensors", "umt5_xxl_fp16.safetensors", "clip_vision_h.safetensors",
                 "wan_2.1_vae.safetensors"):  # fmt: skip
        assert proc.stderr.count(name) == 1, proc.stderr
    assert "--preset demo" in proc.stderr


def test_auto_preset_never_mixes_demo_and_real_files(workdir: Path, tmp_path: Path) -> None:
    from orchestrator.errors import ModelFilesMissing
    from orchestrator.runner import RunRequest, plan_run

    image, out = workdir / "cat.png", tmp_path / "o.mp4"
    assert plan_run(RunRequest("i2v_480p", image, out, workdir / "models", {"prompt": "x"})).preset == "demo"
    # One of the workflow's own files is there: the user is setting up real weights, so no substitution.
    mixed = tmp_path / "mixed"
    shutil.copytree(workdir / "models", mixed, symlinks=True)
    (mixed / "vae" / "wan_2.1_vae.safetensors").write_bytes(b"")
    with pytest.raises(ModelFilesMissing, match="wan2.1_i2v_480p_14B_bf16.safetensors") as caught:
        plan_run(RunRequest("i2v_480p", image, out, mixed, {"prompt": "x"}))
    assert "wan_2.1_vae.safetensors in" not in str(caught.value)
    # The user chose a model file: the rest are the workflow's, not the demo's.
    chosen = {"prompt": "x", "vae": "wan_2.1_vae_demo_tiny.safetensors"}
    with pytest.raises(ModelFilesMissing, match="umt5_xxl_fp16.safetensors"):
        plan_run(RunRequest("i2v_480p", image, out, workdir / "models", chosen))


def test_plain_progress_has_no_carriage_returns_and_stays_short() -> None:
    stream = io.StringIO()
    progress = Progress(stream, tty=False)
    progress("10", "WanI2VSampler", 0, 0)
    for step in range(1, 41):
        progress("10", "WanI2VSampler", step, 40)
    text = stream.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert lines[0] == "  WanI2VSampler (node 10)" and lines[-1] == "  WanI2VSampler 40/40"
    assert len(lines) == 12  # the start line, the first step, then one per 10%
    tty = io.StringIO()
    bar = Progress(tty, tty=True)
    bar("10", "WanI2VSampler", 3, 40)
    bar.done()
    assert tty.getvalue().startswith("\r") and tty.getvalue().endswith("\n")


def test_default_out_is_beside_the_current_folder_and_never_overwrites(tmp_path: Path) -> None:
    image = tmp_path / "cat.png"
    assert default_out(image, tmp_path) == tmp_path / "cat.mp4"
    (tmp_path / "cat.mp4").write_bytes(b"old")
    assert default_out(image, tmp_path) == tmp_path / "cat-2.mp4"
    poster_path(tmp_path / "cat-2.mp4").write_bytes(b"old poster")
    assert default_out(image, tmp_path) == tmp_path / "cat-3.mp4"


def test_the_demo_preset_covers_the_fast_workflows_lora_and_steps() -> None:
    from comfy_nodes.models import demo_files
    from orchestrator.runner import _demo_params

    fast = _demo_params(get_workflow("i2v_480p_fast"))
    assert fast["distill_lora"] == demo_files.FILES["loras"] and fast["steps"] == 4
    assert _demo_params(get_workflow("i2v_480p"))["steps"] == 8


def test_the_fast_workflows_lora_is_in_the_up_front_check(workdir: Path, tmp_path: Path) -> None:
    from orchestrator.errors import ModelFilesMissing
    from orchestrator.runner import RunRequest, plan_run

    image, out = workdir / "cat.png", tmp_path / "o.mp4"
    with pytest.raises(ModelFilesMissing) as caught:
        plan_run(RunRequest("i2v_480p_fast", image, out, workdir / "models", {"prompt": "x"}, preset="workflow"))
    text = str(caught.value)
    assert "lightx2v_I2V_14B_480p_cfg_step_distill_rank64_bf16.safetensors in" in text
    assert "--set distill_lora=NAME" in text and "--set diffusion_model=NAME" in text
    # Each folder lists its own files; the diffusers folder is said to be under diffusers/.
    encoders = next(line for line in text.splitlines() if "umt5_xxl_fp16.safetensors in" in line)
    assert "Wan2.1-I2V-demo-tiny-480P-Diffusers" not in encoders
    assert "diffusers holds the diffusers folders Wan2.1-I2V-demo-tiny-480P-Diffusers" in text


def test_a_missing_lora_set_under_the_demo_preset_is_reported_alone(workdir: Path, tmp_path: Path) -> None:
    from orchestrator.errors import ModelFilesMissing
    from orchestrator.runner import RunRequest, plan_run

    params = {"prompt": "x", "distill_lora": "nope.safetensors"}
    with pytest.raises(ModelFilesMissing) as caught:
        plan_run(RunRequest("i2v_480p_fast", workdir / "cat.png", tmp_path / "o.mp4", workdir / "models", params,
                            preset="demo"))
    text = str(caught.value)
    assert "nope.safetensors in" in text and "umt5_xxl_fp16" not in text
    assert "--set distill_lora=NAME" in text and "--preset demo runs" not in text


def test_naming_a_model_file_says_why_the_demo_is_off(workdir: Path, tmp_path: Path) -> None:
    from orchestrator.errors import ModelFilesMissing
    from orchestrator.runner import RunRequest, plan_run

    params = {"prompt": "x", "distill_lora": "nope.safetensors"}
    with pytest.raises(ModelFilesMissing) as caught:
        plan_run(RunRequest("i2v_480p_fast", workdir / "cat.png", tmp_path / "o.mp4", workdir / "models", params))
    text = str(caught.value)
    assert "nope.safetensors in" in text and "umt5_xxl_fp16.safetensors in" in text
    assert "You set distill_lora, so the demo preset is off" in text and "--preset demo" in text


def test_the_demo_preset_line_says_what_really_runs(workdir: Path, tmp_path: Path) -> None:
    from orchestrator.runner import RunRequest, plan_run

    image, out, models = workdir / "cat.png", tmp_path / "o.mp4", workdir / "models"
    fast = plan_run(RunRequest("i2v_480p_fast", image, out, models, {"prompt": "x"}))
    assert fast.notes[0].startswith("Using the demo model preset at 256x144, 17 frames, 4 steps:"), fast.notes
    assert "4 steps" in fast.describe()
    chosen = plan_run(RunRequest("i2v_480p", image, out, models, {"prompt": "x", "steps": "3", "num_frames": "9"}))
    assert chosen.notes[0].startswith("Using the demo model preset at 256x144, 9 frames, 3 steps:"), chosen.notes

"""`wan-i2v run --cp-ulysses N`: N ranks of the same run, and what context parallelism refuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from comfy_nodes.accel import context_parallel, diffusers_cache
from comfy_nodes.errors import ParameterError

ROOT = Path(__file__).resolve().parents[3]


def _run(tmp_path: Path, *args: str, **env_extra: str) -> subprocess.CompletedProcess[str]:
    Image.new("RGB", (160, 120), (200, 120, 40)).save(tmp_path / "cat.png")
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env_extra}
    env.pop(context_parallel.CP_ENV, None)
    return subprocess.run([sys.executable, "-m", "orchestrator.cli.main", "run", "cat.png", "--prompt", "a cat", *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip


def _frames(video: Path) -> list[bytes]:
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(video))
    next(reader)  # the stream's description
    return list(reader)


@pytest.mark.e2e
def test_two_gloo_ranks_write_the_video_of_one_process(tmp_path: Path, two_head_models: Path) -> None:
    # WAN_I2V_CP_GLOO=1 runs the ranks without GPUs: both join one gloo group and split every
    # transformer pass on the CPU, the path a GPU machine takes over NCCL.
    models = two_head_models
    from orchestrator.runner import DEMO_MODEL_PARAMS

    # A small clip whose 2 x 4 x 6 video tokens split evenly over two ranks.
    values = {**DEMO_MODEL_PARAMS, "diffusion_model": "two_heads.safetensors", "resolution": "custom", "width": 96,
              "height": 64, "num_frames": 5, "steps": 2}  # fmt: skip
    sets = [arg for name, value in values.items() for arg in ("--set", f"{name}={value}")]
    (tmp_path / "one").mkdir()
    (tmp_path / "split").mkdir()
    one = _run(tmp_path / "one", "--models", str(models), *sets)
    split = _run(tmp_path / "split", "--cp-ulysses", "2", "--json", "--models", str(models), *sets, WAN_I2V_CP_GLOO="1")
    assert one.returncode == 0, one.stderr
    assert split.returncode == 0, split.stderr
    (summary,) = [json.loads(line) for line in split.stdout.splitlines() if line.startswith("{")]  # rank 0 only
    assert summary["sampler"]["context_parallel"] == {"ulysses": 2}
    frames = _frames(tmp_path / "split" / "cat.mp4")
    assert len(frames) == values["num_frames"]
    assert frames == _frames(tmp_path / "one" / "cat.mp4")


def test_without_gpus_or_gloo_the_sampler_says_what_context_parallelism_needs(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv(context_parallel.CP_ENV, "2")
    monkeypatch.delenv(context_parallel.GLOO_ENV, raising=False)
    monkeypatch.setattr(context_parallel, "ulysses_problem", lambda transformer, degree: None)
    with pytest.raises(ParameterError, match="needs one CUDA GPU per rank.*WAN_I2V_CP_GLOO=1"):
        context_parallel.prepare_run(torch.nn.Linear(1, 1), None)


def test_what_cannot_be_split_is_refused_before_any_rank_starts(tmp_path: Path, demo_models: Path) -> None:
    (tmp_path / "models").symlink_to(demo_models, target_is_directory=True)
    heads = _run(tmp_path, "--cp-ulysses", "2")
    assert heads.returncode == 1 and "attention heads (1) do not divide into 2 ranks" in heads.stderr
    assert "WanI2VModelLoader" not in heads.stderr  # refused before anything loaded
    fbc = _run(tmp_path, "--cp-ulysses", "2", "--set", "cache=fbc")
    assert fbc.returncode == 1 and "cannot run with cache=fbc" in fbc.stderr


def test_a_machine_without_enough_gpus_is_told_so(monkeypatch) -> None:
    import orchestrator.core.embedded as embedded
    from orchestrator.cli import ranks
    from orchestrator.errors import RunError

    monkeypatch.delenv(ranks.GLOO_ENV, raising=False)
    monkeypatch.setattr(embedded, "visible_gpus", lambda: ["0"])
    with pytest.raises(RunError, match="--cp-ulysses 2 needs 2 CUDA GPUs, one per rank; this machine shows 1"):
        ranks.check_split(2, {"cache": "none"}, None)
    monkeypatch.setattr(embedded, "visible_gpus", lambda: ["0", "1"])
    ranks.check_split(2, {"cache": "magcache"}, None)  # enough GPUs, a cache that splits: fine


def test_first_block_cache_is_refused_when_the_run_is_split(monkeypatch) -> None:
    fbc = diffusers_cache.CacheSettings(kind="fbc", threshold=0.05)
    monkeypatch.delenv(context_parallel.CP_ENV, raising=False)
    assert context_parallel.prepare_run(object(), fbc) == 1  # one process: nothing to split, nothing refused
    monkeypatch.setenv(context_parallel.CP_ENV, "2")
    with pytest.raises(ParameterError, match="FirstBlockCache cannot run with context parallelism.*cache=magcache"):
        context_parallel.prepare_run(object(), fbc)
    monkeypatch.setenv(context_parallel.CP_ENV, "two")
    with pytest.raises(ParameterError, match="whole number"):
        context_parallel.requested_degree()


def test_a_degree_below_one_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "orchestrator.cli.main", "run", "x.png", "--prompt", "x", "--cp-ulysses", "0"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2 and "--cp-ulysses" in proc.stderr

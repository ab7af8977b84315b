"""`wan-i2v run --cp-ulysses N`: N ranks of the same run, and what context parallelism refuses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from comfy_nodes.accel import context_parallel, diffusers_cache
from comfy_nodes.errors import ParameterError

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.e2e
def test_two_ranks_start_run_the_workflow_and_stop_with_one_clear_message(tmp_path: Path, demo_models: Path) -> None:
    # Both ranks join one gloo group and run the workflow up to the sampler, which refuses to split the
    # demo model (one attention head). Neither rank is left waiting for the other, and no video is written.
    (tmp_path / "models").symlink_to(demo_models, target_is_directory=True)
    Image.new("RGB", (160, 120), (200, 120, 40)).save(tmp_path / "cat.png")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(context_parallel.CP_ENV, None)
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli.main", "run", "cat.png", "--prompt", "a cat", "--cp-ulysses", "2",
         "--set", "steps=2"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "WanI2VSampler (node 10)" in proc.stderr  # the ranks got as far as sampling
    assert proc.stderr.count("Error: Context parallelism cannot run: the model's attention heads (1) do not divide into 2") == 1
    assert "Traceback" not in proc.stderr and not (tmp_path / "cat.mp4").exists()


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

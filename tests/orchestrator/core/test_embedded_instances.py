"""`wan-i2v serve`'s embedded instances: one GPU each, found without torch."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from orchestrator.core.embedded import embedded_specs, visible_gpus
from orchestrator.errors import ConfigError


def test_each_instance_sees_one_gpu_and_extra_instances_share_them(tmp_path: Path) -> None:
    specs = embedded_specs(3, 9100, tmp_path / "models", tmp_path / "data", gpus=["0", "1"])
    assert [s.env.get("CUDA_VISIBLE_DEVICES") for s in specs] == ["0", "1", "0"]
    assert [s.port for s in specs] == [9100, 9101, 9102]
    assert all((tmp_path / "data" / "comfy" / f"gpu{i}").is_dir() for i in range(3))


def test_with_wan_cp_ulysses_each_instance_spans_its_own_gpus(tmp_path: Path) -> None:
    specs = embedded_specs(2, 9100, tmp_path / "models", tmp_path / "data", gpus=["0", "1", "2", "3"], cp_ulysses=2)
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in specs] == ["0,1", "2,3"]
    assert all(s.argv[s.argv.index("--cp-ulysses") + 1] == "2" for s in specs)
    with pytest.raises(ConfigError, match="needs 4 GPUs, and this machine shows 3"):
        embedded_specs(2, 9100, tmp_path / "models", tmp_path / "data", gpus=["0", "1", "2"], cp_ulysses=2)


def test_without_gpus_the_instances_get_no_device_setting(tmp_path: Path) -> None:
    specs = embedded_specs(2, 9100, tmp_path / "models", tmp_path / "data", gpus=[])
    assert all("CUDA_VISIBLE_DEVICES" not in s.env for s in specs)


def test_visible_gpus_follow_cuda_visible_devices_then_nvidia_smi(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2, 3")
    assert visible_gpus() == ["2", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")  # CUDA's way of hiding every GPU
    assert visible_gpus() == []
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    # A stand-in nvidia-smi on PATH, printing what the real one prints for two cards.
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-a)'\necho 'GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-b)'\n")
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert visible_gpus() == ["0", "1"]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert visible_gpus() == []

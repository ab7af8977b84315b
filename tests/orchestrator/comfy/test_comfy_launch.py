"""The ComfyUI launcher against a stand-in main.py: commands, readiness, failures, clean stops."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner

from orchestrator.cli.main import app as main_app
from orchestrator.comfy import launch as comfy_launch
from orchestrator.comfy.launch import ComfyLaunchError

FAKE_MAIN = Path(__file__).with_name("fake_comfyui_main.py")


def free_ports(count: int) -> int:
    """A base port such that base .. base+count-1 are free."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65535:
            continue
        try:
            holders = []
            for port in range(base, base + count):
                sock = socket.socket()
                holders.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in holders:
                sock.close()
    raise RuntimeError("no free port block")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    folder = tmp_path / "ComfyUI"
    folder.mkdir()
    shutil.copy(FAKE_MAIN, folder / "main.py")
    return folder


@pytest.fixture
def fake_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("FAKE_COMFY_DIE", "FAKE_COMFY_SILENT", "FAKE_COMFY_STUBBORN"):
        monkeypatch.delenv(name, raising=False)
    yield monkeypatch


def _plan(checkout: Path, **kwargs: object) -> list[comfy_launch.InstanceSpec]:
    return comfy_launch.plan_instances(checkout, python=Path(sys.executable), work_dir=checkout / "runs", **kwargs)


def test_plan_gives_each_gpu_its_port_and_folders(checkout: Path) -> None:
    specs = _plan(checkout, gpus=[0, 1], base_port=9000, listen="0.0.0.0")
    assert [(s.label, s.port, s.url) for s in specs] == [
        ("gpu0", 9000, "http://127.0.0.1:9000"),
        ("gpu1", 9001, "http://127.0.0.1:9001"),
    ]
    argv = specs[1].argv
    assert argv[:2] == [sys.executable, "main.py"]
    assert argv[argv.index("--cuda-device") + 1] == "1" and argv[argv.index("--port") + 1] == "9001"
    assert argv[argv.index("--listen") + 1] == "0.0.0.0" and "--disable-auto-launch" in argv
    assert argv[argv.index("--output-directory") + 1] == str(checkout / "runs" / "gpu1" / "output")
    assert argv[argv.index("--temp-directory") + 1] == str(checkout / "runs" / "gpu1")
    (cpu,) = _plan(checkout, gpus=[0, 1], cpu=True)
    assert cpu.label == "cpu" and "--cpu" in cpu.argv and "--cuda-device" not in cpu.argv


def test_parse_gpus() -> None:
    assert comfy_launch.parse_gpus("0, 2,3") == [0, 2, 3]
    for bad in ("", "a", "0,0", "-1"):
        with pytest.raises(ComfyLaunchError):
            comfy_launch.parse_gpus(bad)


def test_launch_wait_and_stop(checkout: Path, fake_env: pytest.MonkeyPatch) -> None:
    specs = _plan(checkout, gpus=[0, 1], base_port=free_ports(2))
    instances = comfy_launch.start_instances(specs)
    try:
        comfy_launch.wait_until_ready(instances, timeout=30)
        for spec in specs:
            assert requests.get(spec.url + "/system_stats", timeout=5).json()["system"]["comfyui_version"] == "fake"
            started = json.loads((spec.output_dir / "started.json").read_text())
            assert started["label"] == spec.label and started["cwd"] == str(checkout)
    finally:
        comfy_launch.stop_instances(instances, grace=5)
    for spec, instance in zip(specs, instances, strict=True):
        assert instance.process.returncode == 0
        assert (spec.output_dir / "stopped.txt").read_text() == "SIGINT"  # stopped by Ctrl-C, not killed
        assert "starting on port" in spec.log_path.read_text()


def test_an_instance_that_dies_is_named(checkout: Path, fake_env: pytest.MonkeyPatch) -> None:
    fake_env.setenv("FAKE_COMFY_DIE", "gpu1")
    base = free_ports(2)
    instances = comfy_launch.start_instances(_plan(checkout, gpus=[0, 1], base_port=base))
    try:
        with pytest.raises(ComfyLaunchError) as caught:
            comfy_launch.wait_until_ready(instances, timeout=30)
    finally:
        comfy_launch.stop_instances(instances, grace=5)
    message = str(caught.value)
    assert f"port {base + 1}" in message and "exited with code 3" in message
    assert str(checkout / "runs" / "gpu1" / "comfyui.log") in message and "CUDA error: no device" in message


def test_an_instance_that_never_answers_times_out(checkout: Path, fake_env: pytest.MonkeyPatch) -> None:
    fake_env.setenv("FAKE_COMFY_SILENT", "1")
    base = free_ports(1)
    instances = comfy_launch.start_instances(_plan(checkout, cpu=True, base_port=base))
    try:
        with pytest.raises(ComfyLaunchError, match=f"within 1 s on port {base}"):
            comfy_launch.wait_until_ready(instances, timeout=1)
    finally:
        comfy_launch.stop_instances(instances, grace=2)
    assert instances[0].process.returncode is not None


def test_stubborn_instances_are_killed(checkout: Path, fake_env: pytest.MonkeyPatch) -> None:
    fake_env.setenv("FAKE_COMFY_STUBBORN", "1")
    instances = comfy_launch.start_instances(_plan(checkout, cpu=True, base_port=free_ports(1)))
    comfy_launch.wait_until_ready(instances, timeout=30)
    comfy_launch.stop_instances(instances, grace=0.5)
    assert instances[0].process.returncode == -signal.SIGKILL


def test_a_busy_port_is_refused(checkout: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ComfyLaunchError, match=f"Port {port} is already in use"):
            comfy_launch.start_instances(_plan(checkout, cpu=True, base_port=port))


# The comfy sub-app alone: the launcher must not need the node pack (or torch) to start.
LAUNCH = [sys.executable, "-c", "from orchestrator.cli.comfy import app; app(prog_name='wan-i2v comfy')", "launch"]


def test_cli_launch_prints_urls_and_stops_on_ctrl_c(checkout: Path, fake_env: pytest.MonkeyPatch) -> None:
    base = free_ports(2)
    command = LAUNCH + [
        "--comfyui-dir",
        str(checkout),
        "--gpus",
        "0,1",
        "--base-port",
        str(base),
        "--python",
        sys.executable,
        "--work-dir",
        str(checkout / "runs"),
        "--timeout",
        "60",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Ready."):
                break
        assert any(f"http://127.0.0.1:{base + 1}" in line for line in lines), lines
        stats = requests.get(f"http://127.0.0.1:{base}/system_stats", timeout=5).json()
        assert str(base) in stats["system"]["argv"], stats  # our gpu0, not another server on that port
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0 and "Stopped." in rest
    for label in ("gpu0", "gpu1"):
        stopped, log = checkout / "runs" / label / "output" / "stopped.txt", checkout / "runs" / label / "comfyui.log"
        assert stopped.is_file(), f"{label} was not stopped by Ctrl-C: {rest}\n{log.read_text() if log.is_file() else ''}"
        assert stopped.read_text() == "SIGINT"


def test_cli_launch_reports_a_dying_instance(checkout: Path, fake_env: pytest.MonkeyPatch) -> None:
    fake_env.setenv("FAKE_COMFY_DIE", "cpu")
    base = free_ports(1)
    args = [
        "comfy",
        "launch",
        "--comfyui-dir",
        str(checkout),
        "--cpu",
        "--base-port",
        str(base),
        "--python",
        sys.executable,
        "--work-dir",
        str(checkout / "runs"),
    ]
    result = CliRunner().invoke(main_app, args)
    assert result.exit_code == 1
    assert f"port {base}" in result.output and "comfyui.log" in result.output and "CUDA error" in result.output


def test_cli_launch_refuses_a_folder_without_main_py(tmp_path: Path) -> None:
    result = CliRunner().invoke(main_app, ["comfy", "launch", "--comfyui-dir", str(tmp_path), "--cpu"])
    assert result.exit_code == 1 and "does not look like a ComfyUI checkout" in result.output

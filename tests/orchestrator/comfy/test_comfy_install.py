"""`wan-i2v comfy install`: linking or copying the pack, pip for ComfyUI's Python, and refusals."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli.main import app
from orchestrator.comfy import install as comfy_install
from orchestrator.comfy.install import ComfyInstallError


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    folder = tmp_path / "ComfyUI"
    folder.mkdir()
    (folder / "main.py").write_text("# ComfyUI\n")
    return folder


def fake_python(folder: Path, exit_code: int = 0) -> tuple[Path, Path]:
    """An executable that records its arguments, standing in for ComfyUI's Python."""
    record = folder / "python-args.txt"
    script = folder / "python"
    script.write_text(f'#!/bin/sh\necho "$@" > "{record}"\nexit {exit_code}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script, record


def test_link_is_idempotent(checkout: Path) -> None:
    target = comfy_install.install_pack(checkout)
    assert target == checkout / "custom_nodes" / "comfy_nodes"
    assert target.is_symlink() and target.resolve() == comfy_install.pack_source()
    assert (target / "__init__.py").is_file() and (target / "requirements.txt").is_file()
    assert comfy_install.install_pack(checkout) == target


def test_copy_leaves_out_bytecode(checkout: Path) -> None:
    target = comfy_install.install_pack(checkout, copy=True, name="wan_i2v_nodes")
    assert target.is_dir() and not target.is_symlink()
    assert (target / "nodes" / "sampling.py").is_file()
    assert not list(target.rglob("__pycache__"))


def test_something_else_in_the_way_needs_force(checkout: Path) -> None:
    (checkout / "custom_nodes" / "comfy_nodes").mkdir(parents=True)
    with pytest.raises(ComfyInstallError, match="--force"):
        comfy_install.install_pack(checkout)
    assert comfy_install.install_pack(checkout, force=True).is_symlink()


def test_not_a_checkout(tmp_path: Path) -> None:
    with pytest.raises(ComfyInstallError, match="no main.py"):
        comfy_install.install_pack(tmp_path)


def test_default_python_prefers_comfyuis_venv(checkout: Path) -> None:
    assert comfy_install.default_python(checkout).name.startswith("python")
    venv_python = checkout / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text("")
    assert comfy_install.default_python(checkout) == venv_python


def test_requirements_list_the_pack_dependencies_without_torch() -> None:
    text = (comfy_install.pack_source() / "requirements.txt").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    names = {line.split(">")[0].split("=")[0].split("<")[0] for line in lines}
    assert {"diffusers", "transformers", "safetensors", "sentencepiece", "imageio-ffmpeg", "accelerate"} <= names
    assert "torch" not in names


def test_cli_install_links_and_runs_pip(checkout: Path, tmp_path: Path) -> None:
    python, record = fake_python(tmp_path)
    result = CliRunner().invoke(app, ["comfy", "install", "--comfyui-dir", str(checkout), "--python", str(python)])
    assert result.exit_code == 0, result.output
    assert (checkout / "custom_nodes" / "comfy_nodes").is_symlink()
    assert record.read_text().split() == [
        "-m",
        "pip",
        "install",
        "-r",
        str(comfy_install.pack_source() / "requirements.txt"),
    ]


def test_cli_install_reports_pip_failure(checkout: Path, tmp_path: Path) -> None:
    python, _ = fake_python(tmp_path, exit_code=2)
    result = CliRunner().invoke(app, ["comfy", "install", "--comfyui-dir", str(checkout), "--python", str(python)])
    assert result.exit_code == 1 and "pip failed with exit code 2" in result.output


def test_cli_install_without_requirements_and_missing_python(checkout: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["comfy", "install", "--comfyui-dir", str(checkout), "--copy", "--no-requirements"]
    )
    assert result.exit_code == 0 and "Copied" in result.output
    result = CliRunner().invoke(
        app, ["comfy", "install", "--comfyui-dir", str(checkout), "--force", "--python", str(tmp_path / "nope")]
    )
    assert result.exit_code == 1 and "does not exist" in result.output

"""`wan-i2v models`: the demo model commands still work next to download and check."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from orchestrator.cli.main import app


def test_the_models_group_lists_all_its_commands() -> None:
    result = CliRunner().invoke(app, ["models", "--help"])
    assert result.exit_code == 0
    for name in ("make-demo", "list", "download", "check"):
        assert name in result.output, name


def test_list_still_shows_the_demo_files(demo_models: Path, module_host_folders: None) -> None:
    result = CliRunner().invoke(app, ["models", "list", "--models", str(demo_models)])
    assert result.exit_code == 0, result.output
    assert "wan2.1_i2v_480p_demo_tiny.safetensors" in result.output
    assert "Wan2.1-I2V-demo-tiny-480P-Diffusers" in result.output


def test_make_demo_keeps_a_complete_demo(demo_models: Path) -> None:
    result = CliRunner().invoke(app, ["models", "make-demo", str(demo_models)])
    assert result.exit_code == 0, result.output
    assert "already in" in result.output

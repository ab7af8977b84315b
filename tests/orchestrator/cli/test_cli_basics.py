"""What a newcomer checks first: --version, and a LICENSE that matches the package metadata."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_version_prints_the_installed_version_fast() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli.main", "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wan-i2v {version('wan-i2v')}"


def test_license_file_matches_the_metadata() -> None:
    metadata = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert metadata["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text.splitlines()[0] and "Version 2.0, January 2004" in text

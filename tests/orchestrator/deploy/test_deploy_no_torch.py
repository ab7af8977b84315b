"""The deployment commands run in the orchestrator's image, which has no torch: they must not import it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
from typer.testing import CliRunner
from orchestrator.cli.main import app

runner = CliRunner()
for args in (["compose", "--gpus", "3"], ["models", "check", "--models", sys.argv[1]],
             ["models", "download", "--variant", "i2v-14b-480p", "--dest", sys.argv[1], "--base-url",
              "http://127.0.0.1:9", "--retries", "0"]):
    result = runner.invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.output)
    assert result.output, args
heavy = sorted(m for m in ("torch", "diffusers", "transformers", "accelerate") if m in sys.modules)
print("imported:", heavy)
"""


def test_compose_models_check_and_download_import_no_torch(demo_models: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(demo_models)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "imported: []" in result.stdout

"""The dispatcher and its Celery worker never import torch (the service process stays small)."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_dispatch_modules_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "import orchestrator.dispatch, orchestrator.dispatch.driver, orchestrator.dispatch.celery_app\n"
        "import orchestrator.dispatch.local, orchestrator.dispatch.scheduler, orchestrator.cli.worker\n"
        "import orchestrator.comfy.client\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

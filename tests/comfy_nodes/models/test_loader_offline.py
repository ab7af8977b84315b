"""Loading never fetches and never changes the process environment (ComfyUI and its children share it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # a fresh interpreter imports torch, diffusers and transformers

SCRIPT = """
import json, os, sys
from pathlib import Path
from comfy_nodes.models import loaders
folder = Path(sys.argv[1])
loaders.load_transformer(folder)
loaders.load_vae(folder)
print(json.dumps({k: v for k, v in os.environ.items() if k.startswith(("HF_", "TRANSFORMERS_"))}))
"""


def test_diffusers_folder_loads_offline_without_setting_hf_hub_offline(demo_paths: dict[str, Path]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"  # a closed port: any hub request would fail loudly
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(demo_paths["diffusers"])],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"HF_ENDPOINT": "http://127.0.0.1:9"}  # nothing added, HF_HUB_OFFLINE above all

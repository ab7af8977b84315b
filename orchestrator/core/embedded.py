"""Embedded ComfyUI-compatible instances for `wan-i2v serve` when no COMFYUI_URLS are given.

Each runs `wan-i2v comfy serve` in its own process (torch lives there, never in the API
process), on consecutive ports from EMBEDDED_COMFY_PORT, with its own data folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

from orchestrator.comfy.launch import InstanceSpec


def embedded_specs(count: int, first_port: int, models_dir: Path, data_dir: Path) -> list[InstanceSpec]:
    specs = []
    for i in range(count):
        port = first_port + i
        folder = (data_dir / "comfy" / f"gpu{i}").resolve()
        folder.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "orchestrator.cli.main", "comfy", "serve", "--host", "127.0.0.1",
                "--port", str(port), "--models", str(models_dir.resolve()), "--data", str(folder)]
        specs.append(InstanceSpec(label=f"gpu{i}", port=port, argv=argv, cwd=Path.cwd(),
                                  log_path=folder / "comfy.log", output_dir=folder / "output",
                                  probe_host="127.0.0.1"))
    return specs

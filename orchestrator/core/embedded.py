"""Embedded ComfyUI-compatible instances for `wan-i2v serve` when no COMFYUI_URLS are given.

Each runs `wan-i2v comfy serve` in its own process (torch lives there, never in the API
process), on consecutive ports from EMBEDDED_COMFY_PORT, with its own data folder. On a
machine with GPUs, instance i sees only GPU i (CUDA_VISIBLE_DEVICES), as one ComfyUI per
GPU would; with more instances than GPUs they share them in turn. With WAN_CP_ULYSSES=N each
instance gets N GPUs and splits every prompt over them (`comfy serve --cp-ulysses N`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from orchestrator.comfy.launch import InstanceSpec
from orchestrator.errors import ConfigError


def visible_gpus() -> list[str]:
    """The GPUs this process may use, without importing torch: CUDA_VISIBLE_DEVICES when set,
    else what `nvidia-smi -L` lists, else none."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [part.strip() for part in listed.split(",") if part.strip() and part.strip() != "-1"]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(l for l in out.splitlines() if l.startswith("GPU "))]


def embedded_specs(
    count: int, first_port: int, models_dir: Path, data_dir: Path, gpus: list[str] | None = None, cp_ulysses: int = 1
) -> list[InstanceSpec]:
    """`count` instances; with `cp_ulysses` N > 1 each spans N GPUs of its own and splits every prompt over them."""
    gpus = visible_gpus() if gpus is None else gpus
    if cp_ulysses > 1 and gpus and len(gpus) < count * cp_ulysses:
        raise ConfigError(f"WAN_CP_ULYSSES={cp_ulysses} with EMBEDDED_COMFY={count} needs {count * cp_ulysses} GPUs, "
                          f"and this machine shows {len(gpus)}: lower one of them.")  # fmt: skip
    specs = []
    for i in range(count):
        port = first_port + i
        folder = (data_dir / "comfy" / f"gpu{i}").resolve()
        folder.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "orchestrator.cli.main", "comfy", "serve", "--host", "127.0.0.1",
                "--port", str(port), "--models", str(models_dir.resolve()), "--data", str(folder),
                "--cp-ulysses", str(cp_ulysses)]  # fmt: skip
        own = [gpus[(i * cp_ulysses + k) % len(gpus)] for k in range(cp_ulysses)] if gpus else []
        env = {"CUDA_VISIBLE_DEVICES": ",".join(own)} if own else {}
        specs.append(InstanceSpec(label=f"gpu{i}", port=port, argv=argv, cwd=Path.cwd(),
                                  log_path=folder / "comfy.log", output_dir=folder / "output",
                                  probe_host="127.0.0.1", env=env))
    return specs

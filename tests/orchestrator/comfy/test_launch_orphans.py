"""Instances started by `wan-i2v serve` / `comfy launch` end when the process that started them is SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signals are Linux's")

PARENT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from orchestrator.comfy.launch import InstanceSpec, start_instances
    tmp = Path(sys.argv[1])
    spec = InstanceSpec(label="cpu", port=1, argv=[sys.executable, "-c", "import time; time.sleep(120)"],
                        cwd=tmp, log_path=tmp / "child.log", output_dir=tmp / "out", probe_host="127.0.0.1")
    (instance,) = start_instances([spec])
    print(instance.process.pid, flush=True)
    time.sleep(120)
""")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by init) counts as gone
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_an_instance_does_not_outlive_a_killed_parent(tmp_path: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[3])
    child = int(parent.stdout.readline())
    assert _alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = _alive(child)
    if alive:
        os.kill(child, signal.SIGKILL)
    assert not alive

"""Shared by the real-ComfyUI tests: the pack linked into custom_nodes/ for a module's run, the demo
model added to ComfyUI's model paths, and ComfyUI started on the CPU on a free port and stopped."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from orchestrator.comfy import install as comfy_install, launch as comfy_launch

START_TIMEOUT_S = float(os.environ.get("COMFYUI_START_TIMEOUT", "300"))
MODEL_KINDS = ("diffusion_models", "text_encoders", "clip_vision", "vae", "diffusers")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def pack_linked(checkout: Path, extra_nodes: dict[str, Path] | None = None) -> Iterator[None]:
    """The pack in custom_nodes/ (an installed one, link or copy, is used as it is) and `extra_nodes`
    (file name -> source) linked beside it; whatever this added is removed afterwards."""
    created: list[Path] = []
    pack = checkout / "custom_nodes" / comfy_install.DEFAULT_PACK_NAME
    try:
        if not (pack.is_symlink() or pack.exists()):
            comfy_install.install_pack(checkout)
            created.append(pack)
        for name, source in (extra_nodes or {}).items():
            target = checkout / "custom_nodes" / name
            if not target.exists():
                target.symlink_to(source)
                created.append(target)
        yield
    finally:
        for path in created:
            path.unlink()


def demo_model_paths(models: Path, folder: Path) -> list[str]:
    """ComfyUI arguments that add the demo model in `models` to its model paths (nothing written into the checkout)."""
    kinds = "".join(f"    {kind}: {kind}\n" for kind in MODEL_KINDS)
    config = folder / "extra_model_paths.yaml"
    config.write_text(f"wan_i2v_demo:\n    base_path: {models}\n{kinds}")
    return ["--extra-model-paths-config", str(config)]


@contextlib.contextmanager
def running(checkout: Path, python: Path, work: Path, extra_args: list[str]) -> Iterator[str]:
    """One ComfyUI instance on the CPU until the block ends; yields its URL."""
    specs = comfy_launch.plan_instances(checkout, python=python, cpu=True, base_port=free_port(), work_dir=work,
                                        extra_args=extra_args)  # fmt: skip
    instances = comfy_launch.start_instances(specs)
    try:
        comfy_launch.wait_until_ready(instances, timeout=START_TIMEOUT_S)
        yield specs[0].url
    finally:
        comfy_launch.stop_instances(instances)

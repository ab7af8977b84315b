"""Put the node pack into a ComfyUI checkout: link (or copy) it into
`custom_nodes/` and pip-install its requirements into ComfyUI's Python."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from orchestrator.errors import OrchestratorError

DEFAULT_PACK_NAME = "comfy_nodes"


class ComfyInstallError(OrchestratorError):
    """The checkout, the target folder or pip is not as expected; the message says how to fix it."""


def pack_source() -> Path:
    """The node pack's folder (the imported `comfy_nodes` package)."""
    import comfy_nodes

    return Path(comfy_nodes.__file__).resolve().parent


def check_checkout(comfyui_dir: Path) -> Path:
    comfyui_dir = Path(comfyui_dir).expanduser().resolve()
    if not (comfyui_dir / "main.py").is_file():
        raise ComfyInstallError(
            f"{comfyui_dir} does not look like a ComfyUI checkout (there is no main.py); pass --comfyui-dir."
        )
    return comfyui_dir


def default_python(comfyui_dir: Path) -> Path:
    """ComfyUI's own virtual environment when it has one, else this Python."""
    for candidate in (".venv/bin/python", "venv/bin/python", ".venv/Scripts/python.exe", "venv/Scripts/python.exe"):
        path = Path(comfyui_dir) / candidate
        if path.is_file():
            return path
    return Path(sys.executable)


def install_pack(comfyui_dir: Path, *, copy: bool = False, name: str = DEFAULT_PACK_NAME, force: bool = False) -> Path:
    """Link (or copy) the pack to `custom_nodes/<name>`; returns that path.
    Linking again to the same pack is a no-op; anything else already there needs `force`."""
    comfyui_dir = check_checkout(comfyui_dir)
    if not name or "/" in name or name.startswith("."):
        raise ComfyInstallError(f"{name!r} is not a usable folder name for the pack.")
    source = pack_source()
    custom_nodes = comfyui_dir / "custom_nodes"
    custom_nodes.mkdir(exist_ok=True)
    target = custom_nodes / name
    if target.is_symlink() or target.exists():
        if not copy and target.is_symlink() and target.resolve() == source:
            return target
        if not force:
            raise ComfyInstallError(f"{target} already exists; pass --force to replace it.")
        if target.is_symlink() or target.is_file():
            target.unlink()
        else:
            shutil.rmtree(target)
    if copy:
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    else:
        target.symlink_to(source, target_is_directory=True)
    return target


def install_requirements(python: Path, requirements: Path | None = None) -> None:
    """`python -m pip install -r requirements.txt` for the Python that runs ComfyUI."""
    requirements = requirements or pack_source() / "requirements.txt"
    if not Path(python).is_file():
        raise ComfyInstallError(f"Python interpreter {python} does not exist; pass --python.")
    command = [str(python), "-m", "pip", "install", "-r", str(requirements)]
    try:
        subprocess.run(command, check=True)
    except subprocess.CalledProcessError as exc:
        raise ComfyInstallError(
            f"pip failed with exit code {exc.returncode} while running: {' '.join(command)}"
        ) from exc

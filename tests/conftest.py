"""Shared fixtures: the demo model (made once per run) and isolated host folders."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from comfy_nodes import host
from comfy_nodes.models import demo


@pytest.fixture(scope="session")
def demo_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models/ folder holding the tiny random-weight demo model in both layouts."""
    root = tmp_path_factory.mktemp("models")
    demo.make_demo_model(root)
    return root


@pytest.fixture
def demo_paths(demo_models: Path) -> dict[str, Path]:
    return demo.demo_paths(demo_models)


@contextmanager
def _restored_host_folders() -> Iterator[None]:
    """Whatever a test points the host adapter's folders at is undone afterwards."""
    saved_models, saved_io = host._models_dir, dict(host._io_dirs)
    try:
        yield
    finally:
        host._models_dir = saved_models
        host._io_dirs.clear()
        host._io_dirs.update(saved_io)


@pytest.fixture(scope="module")
def module_host_folders() -> Iterator[None]:
    """For module-scoped servers that repoint the host's folders when they start."""
    with _restored_host_folders():
        yield


@pytest.fixture
def host_dirs(tmp_path: Path, demo_models: Path) -> Iterator[dict[str, Path]]:
    """Point the host adapter at the demo models and fresh input/output/temp folders."""
    with _restored_host_folders():
        host.set_models_dir(demo_models)
        dirs = {name: tmp_path / name for name in ("input", "output", "temp")}
        host.set_io_dirs(**dirs)
        yield dirs

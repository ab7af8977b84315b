"""Shared fixtures: the demo model (made once per run) and isolated host folders."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import signal

import pytest

from comfy_nodes import host
from comfy_nodes.models import demo

# A run started in the background of a script (`make test &`) ignores SIGINT, and every process the
# tests start would inherit that; the tests stop servers with SIGINT, as Ctrl-C does.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def demo_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models/ folder holding the tiny random-weight demo model in both layouts."""
    root = tmp_path_factory.mktemp("models")
    demo.make_demo_model(root)
    return root


@pytest.fixture(scope="session")
def two_head_models(tmp_path_factory: pytest.TempPathFactory, demo_models: Path) -> Path:
    """The demo model with a two-head transformer, `two_heads.safetensors`: context parallelism
    needs heads that divide among the ranks, and the demo transformer has one."""
    import torch
    from diffusers import WanTransformer3DModel
    from safetensors.torch import save_file

    from comfy_nodes.models import convert

    root = tmp_path_factory.mktemp("two_head_models")
    for kind in ("text_encoders", "clip_vision", "vae"):
        (root / kind).mkdir()
        for file in (demo_models / kind).iterdir():
            (root / kind / file.name).symlink_to(file)
    (root / "diffusion_models").mkdir()
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=128, in_channels=36, out_channels=16,
        text_dim=demo.TEXT_DIM, freq_dim=256, ffn_dim=256, num_layers=2, image_dim=demo.IMAGE_DIM, added_kv_proj_dim=256,
    )  # fmt: skip
    sd = {k: v.contiguous() for k, v in convert.transformer_from_diffusers(transformer.state_dict()).items()}
    save_file(sd, root / "diffusion_models" / "two_heads.safetensors")
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

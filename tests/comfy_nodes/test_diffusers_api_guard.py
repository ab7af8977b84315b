"""Private diffusers APIs come through one guard: a diffusers without them gives a clear error naming the versions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from comfy_nodes.diffusers_api import MIN_DIFFUSERS, DiffusersVersionError, private
from comfy_nodes.errors import WanI2VError

ROOT = Path(__file__).resolve().parents[2]


def test_present_names_are_returned() -> None:
    from diffusers.hooks.hooks import CacheContext

    assert private("diffusers.hooks.hooks", "CacheContext") == (CacheContext,)


@pytest.mark.parametrize(
    ("module", "name"), [("diffusers.hooks.hooks", "NoSuchThing"), ("diffusers.no_such_module", "Anything")]
)
def test_a_missing_api_names_the_diffusers_versions_needed(module: str, name: str) -> None:
    with pytest.raises(DiffusersVersionError) as caught:
        private(module, name)
    message = str(caught.value)
    assert module in message and name in message
    assert f"diffusers >= {MIN_DIFFUSERS}" in message and f"pip install 'diffusers>={MIN_DIFFUSERS},<1'" in message
    assert isinstance(caught.value, WanI2VError) and isinstance(caught.value, ImportError)


def test_teacache_on_a_diffusers_without_cache_context_fails_clearly() -> None:
    # What diffusers 0.40 looks like to the pack: hooks.hooks has no CacheContext yet.
    code = (
        "import diffusers.hooks.hooks as h\n"
        "del h.CacheContext\n"
        "try:\n"
        "    import comfy_nodes.accel.teacache\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("DiffusersVersionError ")
    assert "CacheContext" in done.stdout and f">= {MIN_DIFFUSERS}" in done.stdout

"""The private diffusers APIs the pack relies on, imported in one guarded place.

diffusers does not promise that modules such as `diffusers.hooks.hooks` or
`diffusers.loaders.single_file_utils` keep their names between releases. Every
import of them goes through `private()`, so a diffusers without them fails with
a message that names the versions that work, instead of a bare ImportError from
deep inside the pack.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import WanI2VError

MIN_DIFFUSERS = "0.41.0"  # CacheContext in diffusers.hooks.hooks (the hook API TeaCache builds on)
TESTED_DIFFUSERS = "0.41.0 - 0.42.1"


class DiffusersVersionError(WanI2VError, ImportError):
    """The installed diffusers lacks an API the pack needs (too old, or changed since)."""


def installed_version() -> str:
    try:
        from importlib.metadata import version

        return version("diffusers")
    except Exception:  # not installed, or without metadata
        return "unknown"


def private(module: str, *names: str) -> tuple[Any, ...]:
    """`names` from the diffusers module `module`, or DiffusersVersionError."""
    try:
        imported = importlib.import_module(module)
        return tuple(getattr(imported, name) for name in names)
    except (ImportError, AttributeError) as exc:
        raise DiffusersVersionError(
            f"The WAN I2V nodes need {module} ({', '.join(names)}) from diffusers >= {MIN_DIFFUSERS} "
            f"(tested with {TESTED_DIFFUSERS}); the installed diffusers {installed_version()} does not provide it "
            f"({exc}). Install a supported version: pip install 'diffusers>={MIN_DIFFUSERS},<1'."
        ) from exc

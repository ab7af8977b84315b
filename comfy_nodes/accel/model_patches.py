"""What the model record asks for beyond its weights, put in place for one sampling run.

- `options["loras"]`: the LoRA chain (kept on the transformer between runs while it
  does not change; see `lora_patch`);
- `options["cache"]`: a diffusers cache (MagCache or FirstBlockCache) from the cache
  nodes, attached for the run and removed afterwards. One cache per run: a model
  with a cache node cannot also get TeaCache settings.
- `options["teacache"]`: TeaCache settings from WanI2VCache; the sampler runs them as
  if they came through its own teacache input (which must then be off or absent).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ..errors import ParameterError
from ..pipeline.types import WanModel
from . import lora_patch


def teacache_for_run(model: WanModel, sampler_teacache: Any | None) -> Any | None:
    """The TeaCache settings for a run: the model's own (from WanI2VCache) or the sampler input's."""
    own = model.options.get("teacache")
    if own is None:
        return sampler_teacache
    if sampler_teacache is not None and sampler_teacache.enabled:
        raise ParameterError(
            "This model already has TeaCache from its cache node, and TeaCache settings reach the sampler too. "
            "Use one cache per model: set the TeaCache node's threshold to 0 (or disconnect it), or choose "
            "cache none in the cache node."
        )
    return own


@contextlib.contextmanager
def patched(model: WanModel, *, steps: int, teacache_on: bool, stats: dict[str, Any]) -> Iterator[None]:
    transformer = model.transformer
    chain = tuple(model.options.get("loras", ()))
    modes = lora_patch.sync(transformer, chain)
    if chain:
        stats["loras"] = [
            {"name": p.lora.name, "strength": p.strength, "skipped_keys": len(p.lora.skipped)} for p in chain
        ]
        stats["lora_modes"] = modes
    cache = model.options.get("cache")
    from . import context_parallel

    degree = context_parallel.prepare_run(transformer, cache)  # after the LoRA chain: it is fused on every rank
    if degree > 1:
        stats["context_parallel"] = {"ulysses": degree}
    if cache is None or not cache.enabled:
        yield
        return
    if teacache_on:
        raise ParameterError(
            f"This model already has {cache.label} from its cache node, and TeaCache settings reach the sampler too. "
            "Use one cache per model: set TeaCache's threshold to 0 (or disconnect it), or remove the cache node."
        )
    from . import diffusers_cache

    diffusers_cache.apply(transformer, cache, steps, model.resolution_class)
    try:
        yield
    finally:
        stats["passes"] = diffusers_cache.stats(transformer)
        stats["cache"] = cache.describe()
        diffusers_cache.remove(transformer)

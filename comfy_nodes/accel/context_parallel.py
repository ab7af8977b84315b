"""One video across several GPUs: diffusers' context parallelism (Ulysses) for the WAN transformer.

Every rank runs the same sampler on the same inputs and seed; inside each transformer
pass the video tokens are split across the ranks (WAN's `_cp_plan` splits the rope and
the first block's hidden states, and gathers at `proj_out`), and Ulysses all-to-alls
turn the token split into a head split around each attention, so every rank attends
over all tokens for its share of the heads. The 512 text + 257 image tokens stay whole.
See docs/multi-gpu.md for the design, the limits and how it was checked.
"""

from __future__ import annotations

import torch

from ..errors import ParameterError


def ulysses_problem(transformer: torch.nn.Module, degree: int) -> str | None:
    """Why Ulysses of this degree cannot run on this model here, or None."""
    import torch.distributed as dist

    if degree < 2:
        return f"the Ulysses degree must be at least 2, got {degree}"
    heads = transformer.config.num_attention_heads
    if heads % degree:
        return f"the model's {heads} attention heads do not divide into {degree} ranks (WAN 14B has 40: use 2, 4, 5 or 8)"
    if not dist.is_available() or not dist.is_initialized():
        return "torch.distributed is not initialised (start every rank with torchrun)"
    if dist.get_world_size() % degree:
        return f"the world size {dist.get_world_size()} is not a multiple of the Ulysses degree {degree}"
    return None


def enable_ulysses(transformer: torch.nn.Module, degree: int) -> None:
    """Split each pass of `transformer` over `degree` ranks (call on every rank, after loading and LoRA)."""
    from diffusers import ContextParallelConfig

    problem = ulysses_problem(transformer, degree)
    if problem:
        raise ParameterError(f"Context parallelism cannot run: {problem}.")
    transformer.enable_parallelism(config=ContextParallelConfig(ulysses_degree=degree))

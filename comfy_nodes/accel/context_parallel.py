"""One video across several GPUs: diffusers' context parallelism (Ulysses) for the WAN transformer.

Every rank runs the same sampler on the same inputs and seed; inside each transformer
pass the video tokens are split across the ranks (WAN's `_cp_plan` splits the rope and
the first block's hidden states, and gathers at `proj_out`), and Ulysses all-to-alls
turn the token split into a head split around each attention, so every rank attends
over all tokens for its share of the heads. The 512 text + 257 image tokens stay whole.
See docs/multi-gpu.md for the design, the limits and how it was checked.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import ParameterError

if TYPE_CHECKING:  # torch loads with the model, not with this module (the CLI reads CP_ENV before that)
    import torch

# Set by `wan-i2v run --cp-ulysses N` for every rank it starts (under torchrun).
CP_ENV = "WAN_I2V_CP_ULYSSES"
# 1: ranks without GPUs split on the CPU over gloo (slow; to try the whole path on any machine).
GLOO_ENV = "WAN_I2V_CP_GLOO"
# Transformers already split, by the process group generation they were split over (forget_split).
_enabled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_generation = 0
# Set where rank 0 leads the other ranks (rank_lead.py: the embedded server's ranks, ComfyUI's helper
# ranks). Called with "pass" before every transformer pass of a split run, so that all ranks agree to
# run it (or all stop); with "sampled" when a split sampling run has ended well, so that its result
# exists on all or none; and with "inputs" and a split sampler's inputs, which rank 0 sends and the
# followers get. It returns the payload as rank 0 sent it.
_agree: Callable[[str, Any], Any] | None = None
_failed_inside_pass = False


def set_agreement(agree: Callable[[str, Any], Any] | None) -> None:
    """Install (or remove, with None) what every rank of a led split run calls at each of those points."""
    global _agree
    _agree = agree


def from_rank_0(*values: Any) -> tuple[Any, ...]:
    """A split sampler's inputs other than its model, as rank 0 has them (on the CPU).

    The followers of a split run build only the model (orchestrator/executor/followers.py,
    helper_ranks.py) and get the embeddings rank 0 computed here; rank 0 sends them. Anywhere
    else this returns `values`."""
    if requested_degree() < 2 or _agree is None:
        return values
    return tuple(_restored(v) for v in _agree("inputs", tuple(_portable(v) for v in values)))


# The pack's import name here: ComfyUI imports it under a name of its own (a path, even), which the
# other ranks, importing it by its folder's name, do not share; the pack's objects travel by their
# module inside the pack.
_PACK = __name__.rsplit(".accel.", 1)[0]
_PACK_OBJECT = "wan-i2v pack object"


def _portable(value: Any) -> Any:
    """`value` ready for another rank: tensors on the CPU (a CUDA tensor would arrive on rank 0's GPU),
    the pack's dataclasses as (module inside the pack, class name, fields)."""
    import dataclasses

    import torch

    if isinstance(value, torch.Tensor):
        return value.cpu()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _portable(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        module = type(value).__module__
        if module.startswith(_PACK + "."):
            return (_PACK_OBJECT, module[len(_PACK) + 1 :], type(value).__qualname__, fields)
        return dataclasses.replace(value, **fields)
    if isinstance(value, (list, tuple)):
        return type(value)(_portable(v) for v in value)
    return value


def _restored(value: Any) -> Any:
    import importlib

    if isinstance(value, tuple) and len(value) == 4 and value[0] == _PACK_OBJECT:
        _, module, name, fields = value
        cls = getattr(importlib.import_module(f"{_PACK}.{module}"), name)
        return cls(**{k: _restored(v) for k, v in fields.items()})
    if isinstance(value, (list, tuple)):
        return type(value)(_restored(v) for v in value)
    return value


@contextlib.contextmanager
def split_pass(degree: int) -> Iterator[None]:
    """One transformer pass of a run split `degree` ways, after the ranks' agreement (when installed;
    it raises Interrupted on every rank when rank 0 stops the run).

    A failure inside it is remembered: the other ranks may be waiting in this pass's exchange,
    which only a rank's exit ends (see `failed_inside_pass`)."""
    global _failed_inside_pass
    if degree > 1 and _agree is not None:
        _agree("pass", None)
    try:
        yield
    except BaseException:
        if degree > 1:
            _failed_inside_pass = True
        raise


def sampled(degree: int) -> None:
    """The end of a sampling run split `degree` ways, the last thing before its result is returned.

    Rank 0 can still fail after its last pass (an interrupt at the last step's tick, say): then every
    rank stops here, as at a pass, and none caches a result the others lack. A follower whose next
    prompt found its sampler cached where rank 0's was not would wait for a pass rank 0 runs alone."""
    if degree > 1 and _agree is not None:
        _agree("sampled", None)


def forget_split() -> None:
    """After the process group was torn down: transformers split over it cannot run split again."""
    global _generation
    _generation += 1


def failed_inside_pass() -> bool:
    """Whether the last run failed inside a split pass (read once: it resets)."""
    global _failed_inside_pass
    failed, _failed_inside_pass = _failed_inside_pass, False
    return failed


def requested_degree() -> int:
    """The Ulysses degree this process was started for (1: no context parallelism)."""
    raw = os.environ.get(CP_ENV, "").strip()
    try:
        return int(raw) if raw else 1
    except ValueError:
        raise ParameterError(f"{CP_ENV} must be a whole number of ranks, got {raw!r}.") from None


def ulysses_problem(transformer: torch.nn.Module, degree: int) -> str | None:
    """Why Ulysses of this degree cannot run on this model here, or None."""
    import torch.distributed as dist

    if degree < 2:
        return f"the Ulysses degree must be at least 2, got {degree}"
    heads = transformer.config.num_attention_heads
    if heads % degree:
        return f"the model's attention heads ({heads}) do not divide into {degree} ranks (WAN 14B has 40: use 2, 4, 5 or 8)"
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


def prepare_run(transformer: torch.nn.Module, cache: Any | None) -> int:
    """Before a sampling run in a process started for context parallelism: refuse what cannot work
    split, and split the transformer once. Returns the degree (1: nothing to do)."""
    degree = requested_degree()
    if degree < 2:
        return 1
    if cache is not None and getattr(cache, "enabled", False) and getattr(cache, "kind", None) == "fbc":
        raise ParameterError(
            "FirstBlockCache cannot run with context parallelism: each rank would judge its own share of the "
            "first block's output, the ranks could skip different steps and stop each other. Use cache=magcache "
            "or cache=teacache (their decisions are the same on every rank), or cache=none."
        )
    if transformer in _enabled:
        if _enabled[transformer] != _generation:
            raise ParameterError(
                "This model was split over ranks that have stopped since. Unload the models (ComfyUI's Unload "
                "Models, or POST /free) and run again: they load and split anew."
            )
        return degree
    problem = ulysses_problem(transformer, degree)
    if problem:
        raise ParameterError(f"Context parallelism cannot run: {problem}.")
    import torch

    if torch.cuda.is_available():
        enable_ulysses(transformer, degree)
    elif os.environ.get(GLOO_ENV) == "1":
        # diffusers gives a rank the device `rank % accelerator count`, and a CPU-only machine counts 0
        # accelerators; every rank's device is the CPU here, which one device stands for.
        count = torch.accelerator.device_count
        torch.accelerator.device_count = lambda: 1
        try:
            enable_ulysses(transformer, degree)
        finally:
            torch.accelerator.device_count = count
    else:
        raise ParameterError(
            "Context parallelism needs one CUDA GPU per rank, and this process sees none. Run without "
            f"--cp-ulysses, or on a machine with that many GPUs ({GLOO_ENV}=1 splits on the CPU, slowly)."
        )
    _enabled[transformer] = _generation
    return degree

"""TeaCache for the diffusers WAN transformer, built as diffusers hooks.

Each forward pass measures how much the timestep embedding moved since the
previous pass of the same branch. The rescaled change is accumulated; while the
sum stays under the threshold the whole block stack is skipped and the residual
it produced last time (last block output - first block input) is added instead.
The head (norm, projection, unpatchify) always runs.

Hooks, following diffusers' FirstBlockCache/MagCache layout:
- an indicator hook records the fp32 indicator (the time embedding `e`, or `e0`);
- a stateful head hook on `blocks[0]` decides compute or skip;
- block hooks on the other blocks pass through on skips; the tail one records
  the residual.

State lives in a `StateManager`, one `TeaCacheState` per `cache_context` name,
so the sampler's "cond" and "uncond" passes keep separate residuals.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch

from ..diffusers_api import private
from ..errors import ModelFormatError, ParameterError

(TransformerBlockRegistry,) = private("diffusers.hooks._helpers", "TransformerBlockRegistry")
BaseState, CacheContext, HookRegistry, ModelHook, StateManager = private(
    "diffusers.hooks.hooks", "BaseState", "CacheContext", "HookRegistry", "ModelHook", "StateManager"
)

logger = logging.getLogger(__name__)

_TEACACHE_INDICATOR_HOOK = "wan_teacache_indicator"
_TEACACHE_HEAD_HOOK = "wan_teacache_head"
_TEACACHE_BLOCK_HOOK = "wan_teacache_block"
_DEFAULT_CONTEXT = "default"  # used when the caller sets no cache_context

# Polynomials (highest power first) mapping the indicator's relative change to
# the expected change of the model output; fitted per model by TeaCache for WAN 2.1 I2V.
COEFFICIENTS: dict[str, tuple[float, ...]] = {
    "480p": (-3.02331670e02, 2.23948934e02, -5.25463970e01, 5.87348440e00, -2.01973289e-01),
    "720p": (-114.36346466, 65.26524496, -18.82220707, 4.91518089, -0.23412683),
    "480p_ret": (2.57151496e05, -3.54229917e04, 1.40286849e03, -1.35890334e01, 1.32517977e-01),
    "720p_ret": (8.10705460e03, 2.13393892e03, -3.72934672e02, 1.66203073e01, -4.17769401e-02),
}
PRESETS = ("auto", "480p", "720p", "480p_ret", "720p_ret")
CACHE_DEVICES = ("main", "cpu")
RET_WARMUP_STEPS = 5  # "retention" mode always computes this many first steps


@dataclass(frozen=True)
class TeaCacheSettings:
    """What the user chose (WAN_TEACACHE); resolved against a run by `for_run`.

    threshold: skip while the accumulated change stays below it; 0 turns TeaCache off.
    start_step: steps before it are always computed.
    end_step / end_percent: steps from this one on are always computed
        (end_step wins when given; end_percent is a fraction of the step count).
    coefficients: a preset name; "auto" picks 480p or 720p from the model; "_ret" presets
        use the retention mode (indicator e0, first 5 steps computed, last step skippable).
    cache_device: keep the residual on the compute device ("main") or in CPU memory.
    """

    threshold: float = 0.0
    start_step: int = 1
    end_step: int | None = None
    end_percent: float = 1.0
    coefficients: str = "auto"
    cache_device: str = "main"

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 10.0:
            raise ParameterError(f"TeaCache threshold must be between 0 and 10, got {self.threshold}.")
        if self.start_step < 0:
            raise ParameterError(f"TeaCache start_step must be >= 0, got {self.start_step}.")
        if self.end_step is not None and self.end_step < self.start_step:
            raise ParameterError(f"TeaCache end_step ({self.end_step}) is before start_step ({self.start_step}).")
        if not 0.0 <= self.end_percent <= 1.0:
            raise ParameterError(f"TeaCache end_percent must be between 0 and 1, got {self.end_percent}.")
        if self.coefficients not in PRESETS:
            raise ParameterError(f"TeaCache coefficients must be one of {PRESETS}, got {self.coefficients!r}.")
        if self.cache_device not in CACHE_DEVICES:
            raise ParameterError(f"TeaCache cache_device must be one of {CACHE_DEVICES}, got {self.cache_device!r}.")

    @property
    def enabled(self) -> bool:
        return self.threshold > 0.0

    def for_run(self, num_steps: int, resolution_class: str) -> TeaCacheConfig:
        """Resolve presets and step bounds for a run of `num_steps` steps."""
        preset = self.coefficients
        if preset == "auto":
            if resolution_class not in ("480p", "720p"):
                raise ParameterError(f"resolution_class must be '480p' or '720p', got {resolution_class!r}.")
            preset = resolution_class
        use_ret = preset.endswith("_ret")
        start = max(self.start_step, RET_WARMUP_STEPS) if use_ret else self.start_step
        end = self.end_step if self.end_step is not None else round(self.end_percent * num_steps)
        start = min(start, num_steps)
        end = min(max(end, start), num_steps)
        return TeaCacheConfig(
            threshold=self.threshold,
            coefficients=COEFFICIENTS[preset],
            num_steps=num_steps,
            start_step=start,
            end_step=end,
            use_ret_steps=use_ret,
            cache_device=self.cache_device,
            preset=preset,
        )


@dataclass
class TeaCacheConfig:
    """TeaCache for one run, with absolute step bounds.

    Steps in [start_step, end_step) may be skipped, except the last step in
    normal mode. `use_ret_steps` selects the indicator: `e0` (the six-way
    timestep projection) instead of `e` (the timestep embedding).
    """

    threshold: float
    coefficients: tuple[float, ...]
    num_steps: int
    start_step: int = 1
    end_step: int | None = None
    use_ret_steps: bool = False
    cache_device: str = "main"
    preset: str = "custom"

    def __post_init__(self) -> None:
        self.coefficients = tuple(float(c) for c in self.coefficients)
        if self.end_step is None:
            self.end_step = self.num_steps
        if self.threshold < 0:
            raise ParameterError(f"TeaCache threshold must be >= 0, got {self.threshold}.")
        if not self.coefficients:
            raise ParameterError("TeaCache needs at least one polynomial coefficient.")
        if self.num_steps < 1:
            raise ParameterError(f"TeaCache num_steps must be >= 1, got {self.num_steps}.")
        if not 0 <= self.start_step <= self.end_step <= self.num_steps:
            raise ParameterError(
                f"TeaCache needs 0 <= start_step <= end_step <= num_steps, got "
                f"{self.start_step}, {self.end_step}, {self.num_steps}."
            )
        if self.cache_device not in CACHE_DEVICES:
            raise ParameterError(f"TeaCache cache_device must be one of {CACHE_DEVICES}, got {self.cache_device!r}.")

    @property
    def enabled(self) -> bool:
        return self.threshold > 0.0

    def rescale(self, rel: float) -> float:
        """Evaluate the polynomial (Horner's rule, highest power first)."""
        value = 0.0
        for c in self.coefficients:
            value = value * rel + c
        return value

    def may_skip(self, step: int) -> bool:
        if step < self.start_step or step >= self.end_step:
            return False
        # Normal mode always computes the final step; retention mode may skip it.
        return self.use_ret_steps or step != self.num_steps - 1


class TeaCacheState(BaseState):
    """Per-branch TeaCache state for one run."""

    def __init__(self) -> None:
        self.step = 0  # index of the next pass of this branch
        self.accumulated = 0.0
        self.indicator: torch.Tensor | None = None  # this pass's indicator
        self.previous_indicator: torch.Tensor | None = None
        self.residual: torch.Tensor | None = None  # last block output - first block input
        self.head_input: torch.Tensor | None = None
        self.should_compute = True
        self.computed = 0
        self.skipped = 0

    def reset(self) -> None:
        self.__init__()


def _state(manager: StateManager) -> TeaCacheState:
    # Like MagCache, fall back to one default branch when no cache_context is set.
    if manager._context is None:
        manager.set_context(CacheContext(name=_DEFAULT_CONTEXT))
    return manager.get_state()


class TeaCacheIndicatorHook(ModelHook):
    """Records the indicator, in fp32.

    TeaCache's WAN coefficients were fitted on the reference model's fp32 time
    embedding `e` (normal mode) and its projection `e0` (retention mode: the 6-way
    shift/scale/gate that modulates every block). In diffusers' WAN model `e` is
    the output of `condition_embedder.time_embedder`, which diffusers keeps in fp32
    (`_keep_in_fp32_modules`); `condition_embedder` then casts it to the text dtype
    (bf16 for bf16 weights) as `temb`. So in normal mode this hook sits on
    `time_embedder` and reads `e` before that cast. In retention mode it reads
    `timestep_proj` (`e0`) from `condition_embedder` and upcasts it: diffusers
    computes it in the weights' dtype, and redoing the 6 x dim x dim projection in
    fp32 would need an fp32 copy of that weight.
    """

    def __init__(self, state_manager: StateManager, use_ret_steps: bool) -> None:
        super().__init__()
        self.state_manager = state_manager
        self.use_ret_steps = use_ret_steps

    def post_forward(self, module: torch.nn.Module, output: torch.Tensor | tuple) -> torch.Tensor | tuple:
        indicator = output[1] if self.use_ret_steps else output
        _state(self.state_manager).indicator = indicator.detach().float()
        return output


class TeaCacheHeadHook(ModelHook):
    """On the first block: decides per pass whether the block stack runs."""

    _is_stateful = True

    def __init__(self, state_manager: StateManager, config: TeaCacheConfig) -> None:
        super().__init__()
        self.state_manager = state_manager
        self.config = config
        self._metadata = None

    def initialize_hook(self, module: torch.nn.Module) -> torch.nn.Module:
        self._metadata = TransformerBlockRegistry.get(module.__class__)
        return module

    def new_forward(self, module: torch.nn.Module, *args, **kwargs):
        hidden_states = self._metadata._get_parameter_from_args_kwargs("hidden_states", args, kwargs)
        state = _state(self.state_manager)
        state.should_compute = self._should_compute(state, hidden_states)
        if not state.should_compute:
            state.skipped += 1
            return hidden_states + state.residual.to(hidden_states.device, non_blocking=True)
        state.computed += 1
        # The tail hook turns this into the residual; only needed when skipping can happen.
        state.head_input = hidden_states if self.config.enabled else None
        return self.fn_ref.original_forward(*args, **kwargs)

    @torch.compiler.disable
    def _should_compute(self, state: TeaCacheState, hidden_states: torch.Tensor) -> bool:
        config = self.config
        indicator = state.indicator
        context_step = self.state_manager.context.step_index
        if state.step >= config.num_steps or (context_step is not None and context_step < state.step):
            state.reset()  # a new run started on this branch
        step = state.step if context_step is None else int(context_step)
        state.step = step + 1
        previous, state.previous_indicator, state.indicator = state.previous_indicator, indicator, None

        if not config.enabled:
            return True
        usable = (
            indicator is not None
            and previous is not None
            and previous.shape == indicator.shape
            and state.residual is not None
            and state.residual.shape == hidden_states.shape
        )
        if not (usable and config.may_skip(step)):
            state.accumulated = 0.0
            return True
        rel = self._relative_change(indicator, previous)
        if rel is None:
            state.accumulated = 0.0
            return True
        state.accumulated += config.rescale(rel)
        if state.accumulated < config.threshold:
            return False
        state.accumulated = 0.0
        return True

    @staticmethod
    def _relative_change(current: torch.Tensor, previous: torch.Tensor) -> float | None:
        """mean|m - m_prev| / mean|m_prev|, or None when it cannot be measured (then the pass computes)."""
        current, previous = current.float(), previous.float()
        denominator = previous.abs().mean().item()
        rel = (current - previous).abs().mean().item() / denominator if denominator > 0.0 else math.nan
        return rel if math.isfinite(rel) else None

    def reset_state(self, module: torch.nn.Module) -> torch.nn.Module:
        self.state_manager.reset()
        return module


class TeaCacheBlockHook(ModelHook):
    """On every other block: pass through on skipped passes; the tail records the residual."""

    def __init__(self, state_manager: StateManager, config: TeaCacheConfig, is_tail: bool) -> None:
        super().__init__()
        self.state_manager = state_manager
        self.config = config
        self.is_tail = is_tail
        self._metadata = None

    def initialize_hook(self, module: torch.nn.Module) -> torch.nn.Module:
        self._metadata = TransformerBlockRegistry.get(module.__class__)
        return module

    def new_forward(self, module: torch.nn.Module, *args, **kwargs):
        state = _state(self.state_manager)
        if not state.should_compute:
            return self._metadata._get_parameter_from_args_kwargs("hidden_states", args, kwargs)
        output = self.fn_ref.original_forward(*args, **kwargs)
        if self.is_tail and state.head_input is not None:
            residual = output - state.head_input
            state.residual = residual.to("cpu") if self.config.cache_device == "cpu" else residual
            state.head_input = None
        return output


def _parts(transformer: torch.nn.Module, use_ret_steps: bool) -> tuple[torch.nn.Module, list[torch.nn.Module]]:
    """(the module whose output is the indicator, the blocks)."""
    blocks = getattr(transformer, "blocks", None)
    embedder = getattr(transformer, "condition_embedder", None)
    time_embedder = getattr(embedder, "time_embedder", None)
    if not isinstance(blocks, torch.nn.ModuleList) or len(blocks) == 0 or embedder is None or time_embedder is None:
        raise ModelFormatError(
            f"TeaCache needs a WAN transformer (blocks + condition_embedder.time_embedder), got {type(transformer).__name__}."
        )
    return (embedder if use_ret_steps else time_embedder), list(blocks)


def apply_teacache(transformer: torch.nn.Module, config: TeaCacheConfig) -> None:
    """Install TeaCache on a diffusers WanTransformer3DModel (replacing any earlier one)."""
    remove_teacache(transformer)
    indicator_source, blocks = _parts(transformer, config.use_ret_steps)
    root = HookRegistry.check_if_exists_or_initialize(transformer)  # cache_context starts here
    manager = StateManager(TeaCacheState)

    def register(module: torch.nn.Module, hook: ModelHook, name: str) -> None:
        HookRegistry.check_if_exists_or_initialize(module).register_hook(hook, name)

    register(indicator_source, TeaCacheIndicatorHook(manager, config.use_ret_steps), _TEACACHE_INDICATOR_HOOK)
    # The tail hook goes on before the head hook so that, with a single block, the head wraps the tail.
    for block in blocks[1:-1]:
        register(block, TeaCacheBlockHook(manager, config, is_tail=False), _TEACACHE_BLOCK_HOOK)
    register(blocks[-1], TeaCacheBlockHook(manager, config, is_tail=True), _TEACACHE_BLOCK_HOOK)
    register(blocks[0], TeaCacheHeadHook(manager, config), _TEACACHE_HEAD_HOOK)
    root.invalidate_child_registries_cache()
    logger.info(
        "TeaCache on: threshold %.3f, %s coefficients, steps %d..%d of %d",
        config.threshold, config.preset, config.start_step, config.end_step, config.num_steps,
    )


def _head_hook(transformer: torch.nn.Module) -> TeaCacheHeadHook | None:
    blocks = getattr(transformer, "blocks", None)
    if not blocks or not hasattr(blocks[0], "_diffusers_hook"):
        return None
    return blocks[0]._diffusers_hook.get_hook(_TEACACHE_HEAD_HOOK)


def is_active(transformer: torch.nn.Module) -> bool:
    return _head_hook(transformer) is not None


def teacache_stats(transformer: torch.nn.Module) -> dict[str, dict[str, int]]:
    """Passes computed and skipped in the latest run, per branch seen (e.g. "cond", "uncond")."""
    hook = _head_hook(transformer)
    if hook is None:
        return {}
    states: dict[str, TeaCacheState] = hook.state_manager._state_cache
    return {name: {"computed": s.computed, "skipped": s.skipped} for name, s in states.items()}


def remove_teacache(transformer: torch.nn.Module) -> None:
    """Remove every TeaCache hook and drop its state; the model computes exactly as before."""
    hook = _head_hook(transformer)
    if hook is not None:
        hook.reset_state(transformer.blocks[0])
    registry = HookRegistry.check_if_exists_or_initialize(transformer)
    for name in (_TEACACHE_HEAD_HOOK, _TEACACHE_BLOCK_HOOK, _TEACACHE_INDICATOR_HOOK):
        registry.remove_hook(name, recurse=True)
    registry.invalidate_child_registries_cache()

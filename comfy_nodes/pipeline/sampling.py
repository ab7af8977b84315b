"""The denoising loop: flow matching with classifier-free guidance."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import numpy as np
import torch

from .. import host
from ..accel import context_parallel
from ..errors import ParameterError
from .types import ImageEmbeds, Latent, TextEmbeds, WanModel

SCHEDULERS = ["unipc", "euler", "euler_simple"]
LATENT_CHANNELS = 16


# The official sampler's unshifted grid runs from its largest training sigma, 0.999 as
# float32, down to 0 (diffusers' default runs from 1 to 1/1000): the model then sees the
# same integer timesteps as with the official code.
_OFFICIAL_SIGMA_MAX = float(np.float32(1.0 - 1.0 / 1000))


def official_sigmas(steps: int) -> np.ndarray:
    """The official FlowUniPC schedule's unshifted sigmas for `steps` steps (the shift comes after)."""
    return np.linspace(_OFFICIAL_SIGMA_MAX, 0.0, steps + 1)[:-1].copy()


def make_scheduler(name: str, shift: float) -> Any:
    """UniPC (order 2, bh2, the official default), Euler (not an official setting) or Euler on
    the uniform "simple" grid (distilled 4-step models), on shifted flow sigmas. Set its timesteps with `set_steps`."""
    from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler

    if name == "unipc":
        return UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=shift,
            num_train_timesteps=1000, solver_order=2, solver_type="bh2", final_sigmas_type="zero",
        )  # fmt: skip
    if name == "euler":
        return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)
    if name == "euler_simple":
        # Deterministic flow Euler on the uniform grid 1 -> 0 before the shift (ComfyUI's "simple"):
        # at 4 steps and shift 5, sigmas [1, 0.9375, 0.8333, 0.625, 0], the timesteps the lightx2v
        # step-distillation LoRAs were trained for ([1000, 750, 500, 250] before the shift).
        sched = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)
        sched.wan_sigma_grid = "simple"
        return sched
    raise ParameterError(f"Unknown scheduler '{name}'; choose one of {', '.join(SCHEDULERS)}.")


def set_steps(sched: Any, steps: int, device: torch.device | str | None = None) -> None:
    """Timesteps for `steps` steps: UniPC on the official sigma grid, Euler on diffusers' own."""
    from diffusers import UniPCMultistepScheduler

    if isinstance(sched, UniPCMultistepScheduler):
        sched.set_timesteps(sigmas=official_sigmas(steps), device=device)
    elif getattr(sched, "wan_sigma_grid", None) == "simple":
        sched.set_timesteps(sigmas=np.linspace(1.0, 0.0, steps + 1)[:-1].copy(), device=device)
    else:
        sched.set_timesteps(steps, device=device)


def initial_noise(image: ImageEmbeds, seed: int) -> torch.Tensor:
    """Seeded fp32 noise, drawn on the CPU so a seed gives the same video on any device."""
    _, _, frames, lat_h, lat_w = image.condition.shape
    generator = torch.Generator("cpu").manual_seed(int(seed) % (2**64))
    return torch.randn(1, LATENT_CHANNELS, frames, lat_h, lat_w, generator=generator, dtype=torch.float32)


@torch.no_grad()
def sample(
    model: WanModel,
    text: TextEmbeds,
    image: ImageEmbeds,
    *,
    steps: int,
    cfg: float,
    shift: float,
    seed: int,
    scheduler: str = "unipc",
    teacache: Any | None = None,
) -> Latent:
    if steps < 1:
        raise ParameterError(f"steps must be at least 1; got {steps}.")
    if shift <= 0:  # a zero shift squeezes every sigma to 0: no denoising, then an empty schedule
        raise ParameterError(f"shift must be above 0; got {shift:g}. WAN 2.1 uses 3.0 at 480p and 5.0 at 720p.")
    transformer = model.transformer
    device = host.get_device()  # the model itself may sit in RAM between runs (offload)
    sched = make_scheduler(scheduler, shift)
    set_steps(sched, steps, device)

    latents = initial_noise(image, seed).to(device)
    condition = image.condition.to(device, model.dtype)
    clip = image.clip_features.to(device, model.dtype)
    contexts = {"cond": text.positive.to(device, model.dtype)}
    if cfg != 1.0:  # cfg 1 is plain conditional sampling: one pass per step
        contexts["uncond"] = text.negative.to(device, model.dtype)

    stats: dict[str, Any] = {"steps": steps, "cfg": cfg, "shift": shift, "seed": seed, "scheduler": scheduler}
    progress = host.Progress(steps)
    started = time.perf_counter()
    with _accelerated(model, teacache, steps, image, stats):
        degree = stats.get("context_parallel", {}).get("ulysses", 1)
        for t in sched.timesteps:
            model_input = torch.cat([latents, condition.float()], dim=1).to(model.dtype)
            timestep = t.expand(1).to(device)
            preds = {}
            for branch, context in contexts.items():
                # Before every transformer pass (the long part; a 14B pass can take a minute), so an
                # interrupt stops the run within one pass, without waiting for the step's end.
                host.throw_if_interrupted()
                # Split over ranks: all run this pass, or all stop.
                with context_parallel.split_pass(degree), transformer.cache_context(branch):
                    preds[branch] = transformer(
                        hidden_states=model_input,
                        timestep=timestep,
                        encoder_hidden_states=context,
                        encoder_hidden_states_image=clip,
                        return_dict=False,
                    )[0].float()
            noise_pred = preds["cond"]
            if "uncond" in preds:
                noise_pred = preds["uncond"] + cfg * (preds["cond"] - preds["uncond"])
            latents = sched.step(noise_pred, t, latents, return_dict=False)[0]
            progress.update(1)
    stats["sampling_seconds"] = round(time.perf_counter() - started, 4)
    # Without TeaCache every pass is computed; report the same shape either way.
    stats.setdefault("passes", {branch: {"computed": steps, "skipped": 0} for branch in contexts})
    result = Latent(samples=latents.cpu(), num_frames=image.num_frames, stats=stats)
    context_parallel.sampled(degree)  # split: every rank returns its result, or none does
    return result


@contextlib.contextmanager
def _accelerated(model: WanModel, teacache: Any | None, steps: int, image: ImageEmbeds, stats: dict[str, Any]):
    """Attention backend, offload, caches and compile for the duration of one sampling run."""
    from ..accel import attention, model_patches, offload, regional_compile
    from ..accel import teacache as teacache_mod

    transformer = model.transformer
    chosen, reason = attention.activate(transformer, model.options.get("attention", "sdpa"))
    stats["attention"] = chosen
    if reason:
        stats["attention_fallback_reason"] = reason
    teacache = model_patches.teacache_for_run(model, teacache)
    use_teacache = teacache is not None and teacache.enabled
    try:
        with (
            offload.on_device(transformer, host.get_device()),
            model_patches.patched(model, steps=steps, teacache_on=use_teacache, stats=stats),  # LoRA chain, caches
            regional_compile.compiled(transformer, model.options.get("compile"), stats),  # after the LoRA chain
        ):
            if use_teacache:
                area_class = "720p" if image.width * image.height > 832 * 480 * 1.5 else "480p"
                config = teacache.for_run(num_steps=steps, resolution_class=model.resolution_class or area_class)
                teacache_mod.apply_teacache(transformer, config)
            try:
                yield
            finally:
                if use_teacache:
                    stats["passes"] = teacache_mod.teacache_stats(transformer)
                    stats["teacache_threshold"] = teacache.threshold
                    stats["cache"] = {"kind": "teacache", "threshold": teacache.threshold, "coefficients": config.preset}
                    teacache_mod.remove_teacache(transformer)
    finally:
        attention.restore(transformer)

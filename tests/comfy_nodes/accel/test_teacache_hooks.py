"""TeaCache hooks on a tiny random WAN transformer."""

from __future__ import annotations

import pytest
import torch

from comfy_nodes.accel import teacache
from comfy_nodes.errors import ParameterError

STEPS = 6
TIMESTEPS = [1000.0 * (1 - i / STEPS) for i in range(STEPS)]
IDENTITY_POLY = (1.0, 0.0)  # rescale(rel) == rel, so skips are easy to predict
COEFFS_480P = teacache.COEFFICIENTS["480p"]


def _hook_names(model: torch.nn.Module) -> set[str]:
    return {name for m in model.modules() if hasattr(m, "_diffusers_hook") for name in m._diffusers_hook.hooks}


def _per_step_skips(model, inputs, run_loop, timesteps) -> tuple[list[torch.Tensor], list[int]]:
    """Outputs, and for each step how many passes (cond + uncond) were skipped."""
    skipped_after: list[int] = []

    def record(_: int) -> None:
        skipped_after.append(sum(b["skipped"] for b in teacache.teacache_stats(model).values()))

    outputs = run_loop(model, inputs, timesteps, after_step=record)
    per_step = [b - a for a, b in zip([0] + skipped_after[:-1], skipped_after)]
    return outputs, per_step


def test_threshold_zero_is_bit_identical(tiny_model, tiny_inputs, run_loop):
    reference = run_loop(tiny_model, tiny_inputs, TIMESTEPS)
    teacache.apply_teacache(tiny_model, teacache.TeaCacheSettings(threshold=0.0).for_run(STEPS, "480p"))
    cached = run_loop(tiny_model, tiny_inputs, TIMESTEPS)

    assert all(torch.equal(a, b) for a, b in zip(reference, cached))
    assert teacache.teacache_stats(tiny_model) == {
        "cond": {"computed": STEPS, "skipped": 0},
        "uncond": {"computed": STEPS, "skipped": 0},
    }


def test_remove_restores_the_original_forward(tiny_model, tiny_inputs, run_loop):
    reference = run_loop(tiny_model, tiny_inputs, TIMESTEPS)
    teacache.apply_teacache(tiny_model, teacache.TeaCacheSettings(threshold=5.0).for_run(STEPS, "480p"))
    assert {"wan_teacache_head", "wan_teacache_block", "wan_teacache_indicator"} <= _hook_names(tiny_model)
    skipping = run_loop(tiny_model, tiny_inputs, TIMESTEPS)
    assert not all(torch.equal(a, b) for a, b in zip(reference, skipping))

    teacache.remove_teacache(tiny_model)

    assert _hook_names(tiny_model) == set()
    assert not teacache.is_active(tiny_model)
    assert teacache.teacache_stats(tiny_model) == {}
    restored = run_loop(tiny_model, tiny_inputs, TIMESTEPS)
    assert all(torch.equal(a, b) for a, b in zip(reference, restored))


def test_constant_input_skips_every_eligible_step(tiny_model, tiny_inputs, run_loop):
    # Same timestep every step: the indicator does not move (rel = 0), so every step
    # that may be skipped is skipped: all but step 0 (start_step 1) and the last step.
    config = teacache.TeaCacheConfig(threshold=0.1, coefficients=IDENTITY_POLY, num_steps=STEPS)
    reference = run_loop(tiny_model, tiny_inputs, [500.0] * STEPS)
    teacache.apply_teacache(tiny_model, config)

    cached, per_step = _per_step_skips(tiny_model, tiny_inputs, run_loop, [500.0] * STEPS)

    assert per_step == [0] + [2] * (STEPS - 2) + [0]
    assert teacache.teacache_stats(tiny_model) == {
        "cond": {"computed": 2, "skipped": STEPS - 2},
        "uncond": {"computed": 2, "skipped": STEPS - 2},
    }
    # Identical inputs: input + cached residual reproduces the computed output (up to rounding).
    for a, b in zip(reference, cached):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)


def test_skip_pattern_follows_the_accumulated_indicator_change(tiny_model, tiny_inputs, run_loop):
    # Recompute the rule independently from the embedder's `temb` and compare step by step.
    threshold = 1.5  # the tiny model's indicator moves 0.5-1.2 per step
    with torch.no_grad():
        temb = [
            tiny_model.condition_embedder(torch.tensor([t]), tiny_inputs["encoder_hidden_states"])[0]
            for t in TIMESTEPS
        ]
    expected, accumulated = [], 0.0
    for i in range(STEPS):
        if i == 0 or i == STEPS - 1:
            expected.append(0)
            accumulated = 0.0
            continue
        accumulated += ((temb[i] - temb[i - 1]).abs().mean() / temb[i - 1].abs().mean()).item()
        if accumulated < threshold:
            expected.append(2)
        else:
            expected.append(0)
            accumulated = 0.0
    assert 0 < sum(expected) < 2 * (STEPS - 2), "pick a threshold that both skips and computes"

    config = teacache.TeaCacheConfig(threshold=threshold, coefficients=IDENTITY_POLY, num_steps=STEPS)
    teacache.apply_teacache(tiny_model, config)
    _, per_step = _per_step_skips(tiny_model, tiny_inputs, run_loop, TIMESTEPS)

    assert per_step == expected


def test_an_unmeasurable_indicator_never_skips(tiny_model, tiny_inputs, run_loop):
    # A zero time embedding makes the relative change 0/0; those passes must compute
    # (the 480p polynomial would send an infinite change to -inf and skip forever).
    embedder = tiny_model.condition_embedder.time_embedder.linear_2
    with torch.no_grad():
        embedder.weight.zero_()
        embedder.bias.zero_()
    teacache.apply_teacache(tiny_model, teacache.TeaCacheSettings(threshold=0.5).for_run(STEPS, "480p"))
    run_loop(tiny_model, tiny_inputs, TIMESTEPS)
    assert teacache.teacache_stats(tiny_model)["cond"] == {"computed": STEPS, "skipped": 0}


def test_state_resets_between_runs(tiny_model, tiny_inputs, run_loop):
    teacache.apply_teacache(tiny_model, teacache.TeaCacheSettings(threshold=5.0).for_run(STEPS, "480p"))
    first = run_loop(tiny_model, tiny_inputs, TIMESTEPS)
    first_stats = teacache.teacache_stats(tiny_model)
    second = run_loop(tiny_model, tiny_inputs, TIMESTEPS)

    assert teacache.teacache_stats(tiny_model) == first_stats  # counts are per run, not cumulative
    assert first_stats["cond"]["skipped"] > 0
    assert all(torch.equal(a, b) for a, b in zip(first, second))

    # Re-applying (a new sampler run) starts from scratch as well.
    teacache.apply_teacache(tiny_model, teacache.TeaCacheSettings(threshold=5.0).for_run(STEPS, "480p"))
    third = run_loop(tiny_model, tiny_inputs, TIMESTEPS)
    assert all(torch.equal(a, b) for a, b in zip(first, third))


def test_step_index_from_the_cache_context_starts_a_new_run(tiny_model, tiny_inputs, run_forward):
    config = teacache.TeaCacheConfig(threshold=0.1, coefficients=IDENTITY_POLY, num_steps=STEPS)
    teacache.apply_teacache(tiny_model, config)
    for _ in range(2):  # a run cut short after 3 steps, then a fresh run
        for i in range(3):
            with tiny_model.cache_context("cond", step_index=i):
                run_forward(tiny_model, tiny_inputs, 500.0)
    assert teacache.teacache_stats(tiny_model) == {"cond": {"computed": 1, "skipped": 2}}


def test_cpu_cache_device_keeps_the_residual_on_cpu(tiny_model, tiny_inputs, run_loop):
    main = teacache.TeaCacheConfig(threshold=0.1, coefficients=IDENTITY_POLY, num_steps=STEPS)
    teacache.apply_teacache(tiny_model, main)
    on_main = run_loop(tiny_model, tiny_inputs, [500.0] * STEPS)

    cpu = teacache.TeaCacheConfig(threshold=0.1, coefficients=IDENTITY_POLY, num_steps=STEPS, cache_device="cpu")
    teacache.apply_teacache(tiny_model, cpu)
    on_cpu = run_loop(tiny_model, tiny_inputs, [500.0] * STEPS)

    head = tiny_model.blocks[0]._diffusers_hook.get_hook("wan_teacache_head")
    residuals = [s.residual for s in head.state_manager._state_cache.values()]
    assert len(residuals) == 2 and all(r.device.type == "cpu" for r in residuals)
    assert teacache.teacache_stats(tiny_model)["cond"]["skipped"] == STEPS - 2
    assert all(torch.equal(a, b) for a, b in zip(on_main, on_cpu))


def test_retention_mode_computes_five_steps_and_may_skip_the_last(tiny_model, tiny_inputs, run_loop):
    config = teacache.TeaCacheConfig(
        threshold=0.1, coefficients=IDENTITY_POLY, num_steps=STEPS, start_step=5, use_ret_steps=True
    )
    teacache.apply_teacache(tiny_model, config)
    _, per_step = _per_step_skips(tiny_model, tiny_inputs, run_loop, [500.0] * STEPS)
    assert per_step == [0] * 5 + [2] * (STEPS - 5)


def test_end_step_forces_compute_after_it(tiny_model, tiny_inputs, run_loop):
    config = teacache.TeaCacheSettings(threshold=0.1, start_step=2, end_percent=0.5).for_run(STEPS, "480p")
    config.coefficients = IDENTITY_POLY
    teacache.apply_teacache(tiny_model, config)
    _, per_step = _per_step_skips(tiny_model, tiny_inputs, run_loop, [500.0] * STEPS)
    assert per_step == [0, 0, 2, 0, 0, 0]  # end = round(0.5 * 6) = 3


def test_settings_resolve_presets_and_bounds():
    auto = teacache.TeaCacheSettings(threshold=0.26).for_run(40, "480p")
    assert auto.coefficients == teacache.COEFFICIENTS["480p"]
    assert (auto.start_step, auto.end_step, auto.use_ret_steps, auto.preset) == (1, 40, False, "480p")

    big = teacache.TeaCacheSettings(threshold=0.25).for_run(30, "720p")
    assert big.coefficients == teacache.COEFFICIENTS["720p"]

    ret = teacache.TeaCacheSettings(threshold=0.3, start_step=2, coefficients="720p_ret", end_percent=0.9).for_run(40, "480p")
    assert ret.coefficients == teacache.COEFFICIENTS["720p_ret"]
    assert (ret.start_step, ret.end_step, ret.use_ret_steps) == (5, 36, True)

    explicit = teacache.TeaCacheSettings(threshold=0.3, start_step=3, end_step=10, end_percent=0.1).for_run(20, "480p")
    assert (explicit.start_step, explicit.end_step) == (3, 10)
    assert teacache.TeaCacheSettings(threshold=0.3, start_step=50).for_run(20, "480p").start_step == 20

    # Horner evaluation matches numpy-style poly1d, highest power first.
    assert auto.rescale(0.1) == pytest.approx(sum(c * 0.1 ** (4 - i) for i, c in enumerate(auto.coefficients)))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold": -0.1},
        {"start_step": -1},
        {"end_percent": 1.5},
        {"coefficients": "1080p"},
        {"cache_device": "disk"},
        {"start_step": 5, "end_step": 2},
    ],
)
def test_invalid_settings_are_rejected(kwargs):
    with pytest.raises(ParameterError):
        teacache.TeaCacheSettings(**kwargs)


def test_invalid_config_is_rejected():
    with pytest.raises(ParameterError):
        teacache.TeaCacheConfig(threshold=0.2, coefficients=IDENTITY_POLY, num_steps=10, start_step=8, end_step=4)
    with pytest.raises(ParameterError):
        teacache.TeaCacheSettings(threshold=0.2).for_run(10, "1080p")


# ---------------------------------------------------------------- with latents that change, as in sampling


def _smooth_tiny(factory, seed: int = 0, fp_dtype: torch.dtype = torch.float32):
    """A tiny model whose time embedding moves 4-25% per step, as a trained WAN's does.

    Random weights on the high-frequency sinusoids (periods far below the spacing of the
    timesteps) make the embedding jump randomly between steps; a trained model's is smooth
    in t. Zeroing those inputs gives the indicator realistic changes, so the real
    polynomials and thresholds both skip and compute.
    """
    model = factory(seed)
    with torch.no_grad():
        weight = model.condition_embedder.time_embedder.linear_1.weight
        half = weight.shape[1] // 2
        for start in (0, half):
            weight[:, start : start + 8] = 0
    if fp_dtype != torch.float32:
        model = model.to(fp_dtype)
        model.condition_embedder.time_embedder.float()  # as diffusers keeps it (_keep_in_fp32_modules)
    return model


def _euler_sample(model, inputs, steps: int, cfg: float = 5.0, shift: float = 3.0, on_pass=None):
    """Flow-matching Euler sampling with CFG: the latents change every step. Returns (latent, skipped flags)."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    sched = FlowMatchEulerDiscreteScheduler(shift=shift)
    sched.set_timesteps(steps)
    x = inputs["hidden_states"][:, :16].clone()
    condition = inputs["hidden_states"][:, 16:]
    contexts = {"cond": inputs["encoder_hidden_states"], "uncond": inputs["negative"]}
    skipped: list[bool] = []
    for t in sched.timesteps:
        preds = {}
        for branch, context in contexts.items():
            before = teacache.teacache_stats(model).get(branch, {}).get("skipped", 0)
            with model.cache_context(branch), torch.no_grad():
                preds[branch] = model(
                    hidden_states=torch.cat([x, condition], 1).to(model.dtype),
                    timestep=t.expand(1),
                    encoder_hidden_states=context.to(model.dtype),
                    encoder_hidden_states_image=inputs["encoder_hidden_states_image"].to(model.dtype),
                    return_dict=False,
                )[0].float()
            skipped.append(teacache.teacache_stats(model).get(branch, {}).get("skipped", 0) > before)
            if on_pass is not None:
                on_pass(branch, skipped[-1])
        x = sched.step(preds["uncond"] + cfg * (preds["cond"] - preds["uncond"]), t, x, return_dict=False)[0]
    return x, skipped, sched.timesteps


def _reference_skips(model, timesteps, coefficients, threshold: float) -> list[bool]:
    """TeaCache's own WAN 2.1 decision rule, written out independently: one counter over both
    branches (even = cond, odd = uncond), the first step and the last step always computed,
    np.poly1d of the relative L1 change of the fp32 time embedding, accumulated in float."""
    import numpy as np

    poly = np.poly1d(coefficients)
    with torch.no_grad():
        embedder = model.condition_embedder
        e = [embedder.time_embedder(embedder.timesteps_proj(t.expand(1)).float()).float() for t in timesteps]
    steps = len(timesteps)
    ret_steps, cutoff = 1 * 2, steps * 2 - 2
    accumulated, previous, skips, cnt = [0.0, 0.0], [None, None], [], 0
    for i in range(steps):
        for parity in (0, 1):
            if cnt < ret_steps or cnt >= cutoff:
                compute = True
                accumulated[parity] = 0.0
            else:
                rel = ((e[i] - previous[parity]).abs().mean() / previous[parity].abs().mean()).item()
                accumulated[parity] += float(poly(rel))
                compute = accumulated[parity] >= threshold
                if compute:
                    accumulated[parity] = 0.0
            previous[parity] = e[i]
            skips.append(not compute)
            cnt += 1
    return skips


@pytest.mark.parametrize("threshold", [0.2, 0.3])
def test_real_coefficients_follow_the_reference_rule_and_stay_close(tiny_factory, tiny_inputs, threshold):
    steps = 30
    model = _smooth_tiny(tiny_factory)
    uncached, _, timesteps = _euler_sample(model, tiny_inputs, steps)
    teacache.apply_teacache(model, teacache.TeaCacheSettings(threshold=threshold).for_run(steps, "480p"))
    cached, skipped, _ = _euler_sample(model, tiny_inputs, steps)

    expected = _reference_skips(model, timesteps, teacache.COEFFICIENTS["480p"], threshold)
    assert skipped == expected
    assert 0 < sum(skipped) < 2 * (steps - 2), "the threshold should both skip and compute here"
    # The result stays close to the uncached one: a small fraction of how far sampling moved.
    start = tiny_inputs["hidden_states"][:, :16]
    drift = ((cached - uncached).norm() / (uncached - start).norm()).item()
    assert drift < 0.05, f"TeaCache moved the result by {drift:.1%} of the sampling's own change"


def test_a_skipped_pass_is_the_current_input_plus_the_cached_residual(tiny_factory, tiny_inputs):
    model = _smooth_tiny(tiny_factory)
    teacache.apply_teacache(model, teacache.TeaCacheConfig(threshold=5.0, coefficients=IDENTITY_POLY, num_steps=8))
    seen: dict[str, list[tuple[torch.Tensor, torch.Tensor, bool]]] = {"cond": [], "uncond": []}
    current: dict[str, torch.Tensor] = {}

    def block_input(module, args, kwargs):
        current["in"] = (args[0] if args else kwargs["hidden_states"]).detach().clone()

    def stack_output(module, args, kwargs, output):
        current["out"] = output.detach().clone()

    handles = [
        model.blocks[0].register_forward_pre_hook(block_input, with_kwargs=True),
        model.blocks[-1].register_forward_hook(stack_output, with_kwargs=True),
    ]
    try:
        _euler_sample(model, tiny_inputs, 8, on_pass=lambda branch, skip: seen[branch].append((current["in"], current["out"], skip)))
    finally:
        for handle in handles:
            handle.remove()

    checked = 0
    for passes in seen.values():
        residual = None
        for i, (block_in, block_out, skip) in enumerate(passes):
            if not skip:
                residual = block_out - block_in
                continue
            assert residual is not None
            assert not torch.equal(block_in, passes[i - 1][0]), "the latents must change between steps"
            assert torch.equal(block_out, block_in + residual)  # not the previous output
            assert not torch.allclose(block_out, passes[i - 1][1])
            checked += 1
    assert checked >= 4


def test_the_indicator_is_the_fp32_time_embedding_of_a_bf16_model(tiny_factory, tiny_inputs):
    model = _smooth_tiny(tiny_factory, fp_dtype=torch.bfloat16)
    teacache.apply_teacache(model, teacache.TeaCacheConfig(threshold=0.3, coefficients=COEFFS_480P, num_steps=4))
    t = torch.tensor([700.0])
    with model.cache_context("cond"), torch.no_grad():
        model(
            hidden_states=tiny_inputs["hidden_states"].bfloat16(),
            timestep=t,
            encoder_hidden_states=tiny_inputs["encoder_hidden_states"].bfloat16(),
            encoder_hidden_states_image=tiny_inputs["encoder_hidden_states_image"].bfloat16(),
            return_dict=False,
        )
    state = teacache._head_hook(model).state_manager._state_cache["cond"]
    embedder = model.condition_embedder
    with torch.no_grad():
        e = embedder.time_embedder(embedder.timesteps_proj(t).float())
        temb = embedder(t, tiny_inputs["encoder_hidden_states"].bfloat16())[0]
    assert e.dtype == torch.float32 and temb.dtype == torch.bfloat16
    assert state.previous_indicator.dtype == torch.float32
    assert torch.equal(state.previous_indicator, e)
    assert not torch.equal(state.previous_indicator, temb.float())  # the bf16-rounded copy differs

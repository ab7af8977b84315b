"""The released 480p workflow, bound to the demo model, run by the in-process executor."""

from __future__ import annotations

import pytest

from comfy_nodes import NODE_CLASS_MAPPINGS
from comfy_nodes.models import demo
from orchestrator.executor import ExecutionFailed, ExecutionHooks, Executor, validate_prompt
from orchestrator.sample_image import draw_sample_image
from orchestrator.workflows import WorkflowParameterError, bind, get_workflow


class Recorder(ExecutionHooks):
    def __init__(self) -> None:
        self.executing: list[str] = []
        self.progress: list[tuple[str, int, int]] = []
        self.cached: list[str] = []

    def on_cached(self, prompt_id, node_ids):
        self.cached = list(node_ids)

    def on_executing(self, prompt_id, node_id, class_type):
        self.executing.append(class_type)

    def on_progress(self, prompt_id, node_id, value, total):
        self.progress.append((node_id, value, total))


@pytest.mark.e2e
def test_demo_model_runs_through_the_released_workflow(host_dirs):
    draw_sample_image(host_dirs["input"] / "start.png", 96, 64)
    params = {
        "diffusion_model": demo.FILES["diffusion_models"],
        "text_encoder": demo.FILES["text_encoders"],
        "clip_vision": demo.FILES["clip_vision"],
        "vae": demo.FILES["vae"],
        "resolution": "custom",
        "width": 64,
        "height": 48,
        "num_frames": 5,
        "steps": 2,
        "prompt": "a boat on the sea",
        "filename_prefix": "demo/boat",
    }
    prompt = bind(get_workflow("i2v_480p"), params, image="start.png")
    executor = Executor(NODE_CLASS_MAPPINGS)
    hooks = Recorder()
    result = executor.execute(validate_prompt(prompt, NODE_CLASS_MAPPINGS), "demo-1", hooks)

    assert hooks.executing[-1] == "WanI2VSaveVideo"
    assert [p for p in hooks.progress if p[0] == "10"][-1] == ("10", 2, 2)  # the sampler's steps
    saved = result.outputs["12"]["images"][0]
    video = host_dirs["output"] / saved["subfolder"] / saved["filename"]
    assert video.suffix == ".mp4" and video.stat().st_size > 0

    # A new seed re-runs only the sampler and what follows it; the loaders come from the cache.
    again = executor.execute(
        validate_prompt(bind(get_workflow("i2v_480p"), {**params, "seed": 1}, image="start.png"), NODE_CLASS_MAPPINGS),
        "demo-2",
        hooks,
    )
    assert again.executed == ["10", "11", "12"]
    assert set(hooks.cached) >= {"2", "3", "5", "6", "7", "8", "9"}


# cache_threshold 0 runs each cache at its published value; at 8 steps each skips passes on the demo model.
PUBLISHED = {"teacache": 0.26, "magcache": 0.24, "fbc": 0.05}


def _demo_params(**extra):
    return {
        "diffusion_model": demo.FILES["diffusion_models"],
        "text_encoder": demo.FILES["text_encoders"],
        "clip_vision": demo.FILES["clip_vision"],
        "vae": demo.FILES["vae"],
        "resolution": "custom", "width": 64, "height": 48, "num_frames": 5, "steps": 8,
        "prompt": "a boat on the sea", "filename_prefix": "demo/cache",
        **extra,
    }  # fmt: skip


def _sampler_stats(result):
    (stats,) = result.outputs["10"]["wan_stats"]
    return stats


@pytest.mark.e2e
@pytest.mark.parametrize("name", ["i2v_480p", "i2v_720p"])
def test_the_latest_quality_workflows_take_a_cache(name):
    workflow = get_workflow(name)
    assert workflow.version == 3  # the newest release is the default
    assert {"cache", "cache_threshold", "compile"} <= set(workflow.manifest.names)
    assert "teacache_threshold" not in workflow.manifest.names
    assert "teacache_threshold" in get_workflow(f"{name}@1").manifest.names  # v1 stays as released


@pytest.mark.e2e
@pytest.mark.parametrize("cache", ["none", "teacache", "magcache", "fbc"])
def test_each_cache_runs_through_the_released_v2_workflow(host_dirs, cache):
    draw_sample_image(host_dirs["input"] / "start.png", 96, 64)
    params = _demo_params(cache=cache, cache_threshold=0.0)
    prompt = bind(get_workflow("i2v_480p@2"), params, image="start.png")
    result = Executor(NODE_CLASS_MAPPINGS).execute(validate_prompt(prompt, NODE_CLASS_MAPPINGS), f"cache-{cache}", Recorder())

    stats = _sampler_stats(result)
    passes = stats["passes"]
    assert set(passes) == {"cond", "uncond"}
    assert all(b["computed"] + b["skipped"] == 8 for b in passes.values())
    skipped = sum(b["skipped"] for b in passes.values())
    if cache == "none":
        assert skipped == 0 and "cache" not in stats
    else:
        assert skipped > 0, passes
        assert (stats["cache"]["kind"], stats["cache"]["threshold"]) == (cache, PUBLISHED[cache])
    assert "compile" not in stats  # off by default
    saved = result.outputs["12"]["images"][0]
    assert (host_dirs["output"] / saved["subfolder"] / saved["filename"]).stat().st_size > 0


def test_bad_cache_values_are_refused_clearly():
    workflow = get_workflow("i2v_480p")
    with pytest.raises(WorkflowParameterError, match=r"Parameter 'cache' is not one of the allowed values, got 'easycache' \(allowed: one of none, teacache, magcache, fbc\)"):
        bind(workflow, {"cache": "easycache"}, image="start.png")
    with pytest.raises(WorkflowParameterError, match="Parameter 'cache_threshold' must be at least 0.0"):
        bind(workflow, {"cache": "magcache", "cache_threshold": -0.1}, image="start.png")
    with pytest.raises(WorkflowParameterError, match="Unknown parameter 'teacache_threshold'.*i2v_480p@3"):
        bind(workflow, {"teacache_threshold": 0.2}, image="start.png")


@pytest.mark.e2e
def test_compile_on_a_cpu_stops_with_the_fix(host_dirs):
    draw_sample_image(host_dirs["input"] / "start.png", 96, 64)
    prompt = bind(get_workflow("i2v_480p"), _demo_params(compile="true"), image="start.png")
    with pytest.raises(ExecutionFailed, match="WanI2VCompile.*needs an NVIDIA GPU with CUDA.*Turn compile off"):
        Executor(NODE_CLASS_MAPPINGS).execute(validate_prompt(prompt, NODE_CLASS_MAPPINGS), "compile-cpu", Recorder())


@pytest.mark.e2e
def test_a_larger_threshold_skips_more(host_dirs):
    draw_sample_image(host_dirs["input"] / "start.png", 96, 64)
    executor = Executor(NODE_CLASS_MAPPINGS)
    skipped = []
    for threshold in (0.05, 0.3):
        prompt = bind(get_workflow("i2v_480p"), _demo_params(cache="fbc", cache_threshold=threshold), image="start.png")
        stats = _sampler_stats(executor.execute(validate_prompt(prompt, NODE_CLASS_MAPPINGS), f"fbc-{threshold}", Recorder()))
        assert stats["cache"]["threshold"] == threshold
        skipped.append(sum(b["skipped"] for b in stats["passes"].values()))
    assert skipped[0] < skipped[1]


@pytest.mark.e2e
def test_a_job_pinned_to_v1_still_runs_teacache(host_dirs):
    draw_sample_image(host_dirs["input"] / "start.png", 96, 64)
    prompt = bind(get_workflow("i2v_480p@1"), {**_demo_params(), "teacache_threshold": 0.3}, image="start.png")
    result = Executor(NODE_CLASS_MAPPINGS).execute(validate_prompt(prompt, NODE_CLASS_MAPPINGS), "v1-tea", Recorder())
    stats = _sampler_stats(result)
    assert stats["teacache_threshold"] == 0.3 and stats["cache"]["kind"] == "teacache"
    assert sum(b["skipped"] for b in stats["passes"].values()) > 0

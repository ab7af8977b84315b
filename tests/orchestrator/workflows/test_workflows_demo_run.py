"""The released 480p workflow, bound to the demo model, run by the in-process executor."""

from __future__ import annotations

import pytest

from comfy_nodes import NODE_CLASS_MAPPINGS
from comfy_nodes.models import demo
from orchestrator.executor import ExecutionHooks, Executor, validate_prompt
from orchestrator.sample_image import draw_sample_image
from orchestrator.workflows import bind, get_workflow


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

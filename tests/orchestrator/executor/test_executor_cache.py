"""The output cache between prompts: full reuse, partial re-runs, IS_CHANGED, bounds."""

from __future__ import annotations

import copy
import weakref

import pytest

from orchestrator.executor import ExecutionFailed, Executor, validate_prompt
from orchestrator.executor.followers import followers_part


def prompt(seed: int = 1, label: str = "x") -> dict:
    return {
        "1": {"class_type": "Number", "inputs": {"value": 4}},  # the "model loader"
        "2": {"class_type": "Number", "inputs": {"value": seed}},  # the "seed"
        "3": {"class_type": "Add", "inputs": {"a": ["1", 0], "b": ["2", 0]}},
        "4": {"class_type": "ShowInt", "inputs": {"value": ["3", 0]}},
        "5": {"class_type": "Settings", "inputs": {"mode": "fast", "scale": 1.0, "flag": True, "label": label}},
        "6": {"class_type": "Show", "inputs": {"value": ["5", 0]}},
    }


def execute(fake, executor, p, hooks=None, prompt_id="p"):
    return executor.execute(validate_prompt(p, fake.classes), prompt_id, hooks)


def test_identical_prompt_is_served_fully_from_cache(fake, hooks):
    executor = Executor(fake.classes)
    first = execute(fake, executor, prompt())
    calls = list(fake.calls)
    second = execute(fake, executor, copy.deepcopy(prompt()), hooks, prompt_id="again")
    assert fake.calls == calls  # no node function was called
    assert second.executed == []
    assert second.cached == ["1", "2", "3", "4", "5", "6"]
    assert second.outputs == first.outputs
    assert hooks.events[:2] == [("start", "again"), ("cached", ["1", "2", "3", "4", "5", "6"])]
    # Cached output nodes still report their ui; nothing reports "executing".
    assert hooks.events[2:] == [("executed", "4", {"value": [5]}), ("executed", "6", first.outputs["6"])]


def test_changed_seed_reruns_only_downstream(fake, hooks):
    executor = Executor(fake.classes)
    execute(fake, executor, prompt(seed=1))
    fake.calls.clear()
    result = execute(fake, executor, prompt(seed=2), hooks)
    assert result.cached == ["1", "5", "6"]
    assert result.executed == ["2", "3", "4"]
    assert fake.calls == ["Number", "Add", "ShowInt"]
    assert result.outputs["4"] == {"value": [6]}
    assert ("cached", ["1", "5", "6"]) in hooks.events


def test_cache_disabled_runs_everything(fake):
    executor = Executor(fake.classes, cache=False)
    execute(fake, executor, prompt())
    fake.calls.clear()
    result = execute(fake, executor, prompt())
    assert result.cached == []
    assert len(fake.calls) == 6
    assert len(executor.cache) == 0


def is_changed_prompt() -> dict:
    return {
        "1": {"class_type": "Clock", "inputs": {"value": 3}},
        "2": {"class_type": "Add", "inputs": {"a": ["1", 0], "b": 1}},
        "3": {"class_type": "ShowInt", "inputs": {"value": ["2", 0]}},
    }


def test_is_changed_value_controls_reuse(fake):
    clock = fake.classes["Clock"]
    executor = Executor(fake.classes)
    execute(fake, executor, is_changed_prompt())
    assert execute(fake, executor, is_changed_prompt()).executed == []
    clock.token = "b"  # e.g. the file on disk changed
    assert execute(fake, executor, is_changed_prompt()).executed == ["1", "2", "3"]
    clock.token = float("nan")  # NaN: always re-run
    assert execute(fake, executor, is_changed_prompt()).executed == ["1", "2", "3"]
    assert execute(fake, executor, is_changed_prompt()).executed == ["1", "2", "3"]


def test_only_latest_prompt_entries_are_kept_by_default(fake):
    executor = Executor(fake.classes)
    execute(fake, executor, prompt(seed=1, label="a"))
    execute(fake, executor, prompt(seed=2, label="b"))
    assert len(executor.cache) == 6  # the first prompt's seed/label branches were dropped
    result = execute(fake, executor, prompt(seed=1, label="a"))
    assert result.cached == ["1"]


def test_lru_keeps_older_entries(fake):
    executor = Executor(fake.classes, cache_lru=10)
    execute(fake, executor, prompt(seed=1, label="a"))
    execute(fake, executor, prompt(seed=2, label="b"))
    result = execute(fake, executor, prompt(seed=1, label="a"))
    assert result.executed == []


def test_outputs_before_a_failure_are_reused(fake):
    executor = Executor(fake.classes)
    failing = {
        "1": {"class_type": "Number", "inputs": {"value": 4}},
        "2": {"class_type": "Boom", "inputs": {"value": ["1", 0]}},
        "3": {"class_type": "ShowInt", "inputs": {"value": ["2", 0]}},
    }
    with pytest.raises(ExecutionFailed):
        execute(fake, executor, failing)
    fixed = dict(failing, **{"2": {"class_type": "Add", "inputs": {"a": ["1", 0], "b": 1}}})
    result = execute(fake, executor, fixed)
    assert result.cached == ["1"]
    assert result.executed == ["2", "3"]


def test_switching_models_releases_the_old_one_before_the_new_loader_runs():
    """Two prompts naming different model files never hold both models at once."""
    class Model:
        def __init__(self, name: str) -> None:
            self.name = name
            self.cycle = self  # real models sit in reference cycles; only gc frees them

    loaded: dict[str, weakref.ref] = {}
    alive_when_loading: list[list[str]] = []

    class Loader:
        @classmethod
        def INPUT_TYPES(cls) -> dict:
            return {"required": {"name": (["480p.safetensors", "720p.safetensors"], {})}}

        RETURN_TYPES = ("MODEL",)
        FUNCTION = "load"

        def load(self, name: str) -> tuple[Model]:
            alive_when_loading.append([n for n, ref in loaded.items() if ref() is not None])
            model = Model(name)
            loaded[name] = weakref.ref(model)
            return (model,)

    class Use:
        @classmethod
        def INPUT_TYPES(cls) -> dict:
            return {"required": {"model": ("MODEL", {})}}

        RETURN_TYPES = ()
        FUNCTION = "use"
        OUTPUT_NODE = True

        def use(self, model: Model) -> dict:
            return {"ui": {"text": [model.name]}}

    classes = {"Loader": Loader, "Use": Use}
    executor = Executor(classes)

    def run(name: str) -> None:
        p = {
            "1": {"class_type": "Loader", "inputs": {"name": name}},
            "2": {"class_type": "Use", "inputs": {"model": ["1", 0]}},
        }
        executor.execute(validate_prompt(p, classes), name)

    run("480p.safetensors")
    run("720p.safetensors")
    assert alive_when_loading == [[], []]  # the 480p model was gone before the 720p loader ran
    assert loaded["480p.safetensors"]() is None and loaded["720p.safetensors"]() is not None
    run("720p.safetensors")  # the same file again is reused, not reloaded
    assert len(alive_when_loading) == 2


@pytest.mark.parametrize("inputs_sent", [False, True], ids=["encoding", "sent"])
def test_followers_run_the_samplers_and_cache_them_as_rank_0_does(fake, inputs_sent):
    """A split run's followers run `followers_part` of each prompt: a sampler (a class with
    SPLITS_PASSES) must run on every rank or on none, or one rank waits in a pass alone."""

    class Sampler:  # builds its "model" (a) on every rank; b is an "embedding", which rank 0 may send
        SPLITS_PASSES = True
        BUILT_ON_EVERY_RANK = ("a",)

        @classmethod
        def INPUT_TYPES(cls) -> dict:
            return {"required": {"a": ("INT", {}), "b": ("INT", {})}}

        RETURN_TYPES = ("INT",)
        FUNCTION = "sample"

        def sample(self, a, b):
            fake.calls.append("Sampler")
            return (a,)

    fake.classes["Sampler"] = Sampler

    def split_prompt(seed: int = 1, label: str = "x") -> dict:
        p = prompt(seed, label)
        p["3"]["class_type"] = "Sampler"
        return p

    leader, follower = Executor(fake.classes), Executor(fake.classes)
    # A new label (node 5, beside the sampler) or nothing new: no sampler runs; a new seed: it runs.
    prompts = [split_prompt(), split_prompt(label="y"), split_prompt(seed=2, label="y"), split_prompt(seed=2, label="y"),
               split_prompt(seed=3)]  # fmt: skip
    sampled = []
    for index, p in enumerate(prompts):
        validated = validate_prompt(p, fake.classes)
        part = followers_part(validated, fake.classes, inputs_sent=inputs_sent)
        assert part.outputs == ["3"]
        ran = leader.execute(validated, f"p{index}").executed
        followed = follower.execute(part, f"p{index}").executed
        # Nothing after the sampler or beside it; with the inputs sent, not even the "seed" (node 2).
        assert set(followed) <= ({"1", "3"} if inputs_sent else {"1", "2", "3"}), followed
        sampled.append(("3" in ran, "3" in followed))
    assert sampled == [(True, True), (False, False), (True, True), (False, False), (True, True)]
    assert fake.calls.count("ShowInt") == 3 and fake.calls.count("Show") == 3  # rank 0's alone
    assert fake.calls.count("Sampler") == 6


def test_a_prompt_without_a_sampler_runs_nothing_on_the_followers(fake):
    fake.classes["Add"].SPLITS_PASSES = True
    only_settings = {k: v for k, v in prompt().items() if k in ("5", "6")}
    validated = validate_prompt(only_settings, fake.classes)
    part = followers_part(validated, fake.classes, inputs_sent=True)
    assert part.outputs == []
    assert Executor(fake.classes).execute(part, "p").executed == []

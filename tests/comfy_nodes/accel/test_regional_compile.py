"""WanI2VCompile: the clear stop without a CUDA GPU, and which modules get compiled (no GPU needed)."""

from __future__ import annotations

import pytest
import torch

from comfy_nodes.accel import regional_compile
from comfy_nodes.errors import ParameterError
from comfy_nodes.models import demo, loaders
from comfy_nodes.nodes.accel import WanI2VCompile
from comfy_nodes.nodes.encode import WanI2VImageEncode
from comfy_nodes.pipeline import sampling, text


@pytest.fixture(scope="module")
def parts(demo_models):
    paths = demo.demo_paths(demo_models)
    model = loaders.load_transformer(paths["diffusion_models"])
    clip, vae = loaders.load_clip_vision(paths["clip_vision"]), loaders.load_vae(paths["vae"])
    encoder = loaders.load_text_encoder(paths["text_encoders"])
    image = torch.rand(1, 40, 56, 3, generator=torch.Generator().manual_seed(3))
    embeds = WanI2VImageEncode().encode(clip, vae, image, "custom", 48, 32, 5)[0]
    return model, text.encode_prompts(encoder, "a boat", "blurry"), embeds


def _sample(model, parts):
    return sampling.sample(model, parts[1], parts[2], steps=2, cfg=5.0, shift=3.0, seed=1)


def test_on_the_cpu_it_stops_and_names_the_fix(parts):
    model = parts[0]
    with pytest.raises(ParameterError, match="needs an NVIDIA GPU with CUDA; this machine computes on cpu. Turn compile off"):
        WanI2VCompile().apply(model)
    assert WanI2VCompile().apply(model, enabled=False)[0] is model  # off: runs anywhere, model untouched


def test_without_triton_it_says_what_to_install(parts, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(regional_compile, "_has_triton", lambda: False)
    with pytest.raises(ParameterError, match="needs the triton package.*pip install triton"):
        WanI2VCompile().apply(parts[0])
    with pytest.raises(ParameterError, match="compile mode must be one of default, max-autotune-no-cudagraphs"):
        WanI2VCompile().apply(parts[0], mode="turbo")


@pytest.mark.parametrize("path", ["compile_repeated_blocks", "per block"])
def test_only_the_repeated_blocks_are_compiled(parts, demo_models, monkeypatch, path):
    base = loaders.load_transformer(demo.demo_paths(demo_models)["diffusion_models"])  # never compiled before
    transformer = base.transformer
    # The node's check sees a CUDA device with triton; the run itself stays on the CPU.
    with monkeypatch.context() as gpu:
        gpu.setattr(torch.cuda, "is_available", lambda: True)
        gpu.setattr(regional_compile, "_has_triton", lambda: True)
        (model,) = WanI2VCompile().apply(base, mode="max-autotune-no-cudagraphs")
    assert "compile" not in base.options and model.options["compile"].mode == "max-autotune-no-cudagraphs"
    if path == "per block":  # a diffusers model without `_repeated_blocks`: each of `transformer.blocks`
        monkeypatch.setattr(type(transformer), "_repeated_blocks", [])

    compiled = []  # (module, torch.compile kwargs); the fake returns the eager call, so the run works on a CPU

    def fake_compile(fn, **kwargs):
        compiled.append((fn.__self__, kwargs))
        return fn

    monkeypatch.setattr(torch, "compile", fake_compile)
    wrapped_during_run = []
    handles = [b.register_forward_pre_hook(lambda m, a: wrapped_during_run.append(m._compiled_call_impl is not None))
               for b in transformer.blocks]
    try:
        plain = _sample(base, parts)  # no compile option: nothing compiled, blocks run eagerly
        assert compiled == [] and not any(wrapped_during_run) and "compile" not in plain.stats
        wrapped_during_run.clear()

        result = _sample(model, parts)
        assert [m for m, _ in compiled] == list(transformer.blocks)  # the blocks and nothing else
        assert all(kw == {"mode": "max-autotune-no-cudagraphs", "fullgraph": False} for _, kw in compiled)
        assert wrapped_during_run and all(wrapped_during_run)
        assert result.stats["compile"] == {"mode": "max-autotune-no-cudagraphs", "blocks": len(transformer.blocks)}
        assert torch.equal(result.samples, plain.samples)
        # After the run the blocks are eager again; the next run reuses the compiled callables.
        assert all(b._compiled_call_impl is None for b in transformer.modules())
        _sample(model, parts)
        assert len(compiled) == len(transformer.blocks)
    finally:
        for handle in handles:
            handle.remove()


def test_a_compiled_model_is_released_when_nothing_uses_it(parts, demo_models, monkeypatch):
    import gc
    import weakref

    base = loaders.load_transformer(demo.demo_paths(demo_models)["diffusion_models"])
    with monkeypatch.context() as gpu:
        gpu.setattr(torch.cuda, "is_available", lambda: True)
        gpu.setattr(regional_compile, "_has_triton", lambda: True)
        (model,) = WanI2VCompile().apply(base)
    monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: fn)  # like torch.compile, the result holds the block
    _sample(model, parts)
    released = weakref.ref(base.transformer.blocks[0])  # a block: what the kept callables refer to
    del base, model
    gc.collect()
    assert released() is None  # the kept compiled callables never keep a model alive

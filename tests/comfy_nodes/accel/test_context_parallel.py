"""Ulysses context parallelism: two gloo processes sample the same latents as one process."""

from __future__ import annotations

import multiprocessing
import os
import socket
from unittest import mock

import pytest
import torch

from comfy_nodes.accel import context_parallel
from comfy_nodes.errors import ParameterError
from comfy_nodes.pipeline import sampling
from comfy_nodes.pipeline.types import ImageEmbeds, TextEmbeds, WanModel

# Two heads, so that Ulysses can give each of two ranks one (the demo model has a single head).
CONFIG = dict(
    patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=16, in_channels=36, out_channels=16,
    text_dim=32, freq_dim=32, ffn_dim=64, num_layers=2, image_dim=24, added_kv_proj_dim=32,
)  # fmt: skip


def _model() -> WanModel:
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    return WanModel(transformer=WanTransformer3DModel(**CONFIG).eval(), dtype=torch.float32, source="tiny_480p")


def _sample(model: WanModel) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    text = TextEmbeds(torch.randn(1, 512, 32, generator=gen), torch.randn(1, 512, 32, generator=gen), "a", "b")
    image = ImageEmbeds(torch.randn(1, 257, 24, generator=gen), torch.randn(1, 20, 2, 8, 8, generator=gen), 64, 64, 5)
    return sampling.sample(model, text, image, steps=3, cfg=5.0, shift=3.0, seed=4, scheduler="unipc").samples


def _rank(rank: int, port: int, results) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        model = _model()
        # diffusers picks the rank's device as rank % accelerator count, which is 0 on a CPU-only machine.
        with mock.patch.object(torch.accelerator, "device_count", return_value=1):
            context_parallel.enable_ulysses(model.transformer, 2)
        seen: list[int] = []  # video tokens each rank's second block gets: half of them
        model.transformer.blocks[1].register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[1]))
        latents = _sample(model).numpy()  # plain pickling: no shared memory outliving the rank
        results.put((rank, (latents, sorted(set(seen)))))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.e2e
def test_two_gloo_ranks_sample_the_latents_of_one_process():
    single = _sample(_model())
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_rank, args=(rank, port, results)) for rank in range(2)]
    for proc in procs:
        proc.start()
    got = dict(results.get(timeout=120) for _ in procs)
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    for rank in (0, 1):
        latents, tokens = got[rank]
        assert tokens == [16]  # 2 x 4 x 4 = 32 video tokens, split over two ranks
        torch.testing.assert_close(torch.from_numpy(latents), single, rtol=0, atol=1e-6)


def test_what_cannot_run_is_said():
    model = _model().transformer
    assert "heads (2) do not divide into 3" in context_parallel.ulysses_problem(model, 3)
    assert "not initialised" in context_parallel.ulysses_problem(model, 2)
    with pytest.raises(ParameterError, match="Context parallelism cannot run"):
        context_parallel.enable_ulysses(model, 2)


def test_inputs_travel_to_other_ranks_as_the_packs_own_classes_and_come_back_equal():
    """Inside ComfyUI the pack's modules have a name of ComfyUI's making, which another rank's pickle
    cannot import: the pack's dataclasses travel as (module inside the pack, class, fields)."""
    import pickle

    text = TextEmbeds(positive=torch.randn(1, 4, 8), negative=torch.zeros(1, 4, 8), prompt="a cat", negative_prompt="")
    image = ImageEmbeds(clip_features=torch.randn(1, 3, 5), condition=torch.randn(1, 20, 2, 4, 6), width=96,
                        height=64, num_frames=5)  # fmt: skip
    sent = pickle.dumps(tuple(context_parallel._portable(v) for v in (text, image, None)))
    assert b"pipeline.types" in sent and b"TextEmbeds" in sent
    assert b"comfy_nodes.pipeline" not in sent  # no import name of this process's own
    got_text, got_image, none = (context_parallel._restored(v) for v in pickle.loads(sent))
    assert isinstance(got_text, TextEmbeds) and isinstance(got_image, ImageEmbeds) and none is None
    assert torch.equal(got_text.positive, text.positive) and got_text.prompt == "a cat"
    assert torch.equal(got_image.condition, image.condition) and got_image.num_frames == 5


def test_a_sampler_input_is_its_own_without_a_split_run():
    text = TextEmbeds(positive=torch.ones(1), negative=torch.zeros(1), prompt="p", negative_prompt="n")
    assert context_parallel.from_rank_0(text, None) == (text, None)

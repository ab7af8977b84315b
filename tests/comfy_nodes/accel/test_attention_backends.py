"""Attention backend selection through diffusers' dispatch."""

from __future__ import annotations

import logging

import pytest
import torch
from diffusers.models.attention_dispatch import AttentionBackendName

from comfy_nodes.accel import attention
from comfy_nodes.errors import ParameterError

LOGGER = "comfy_nodes.accel.attention"
needs_cpu_only = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback")


def _backends(model: torch.nn.Module) -> set:
    return {m.processor._attention_backend for m in model.modules() if hasattr(m, "processor") and hasattr(m.processor, "_attention_backend")}


def _warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]


@needs_cpu_only
def test_sage_on_cpu_falls_back_with_one_warning(tiny_model, caplog):
    caplog.set_level(logging.INFO)
    chosen, reason = attention.activate(tiny_model, "sage")

    assert chosen == "sdpa"
    assert reason is not None and "CUDA" in reason
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and "CUDA" in warnings[0].getMessage()
    assert _backends(tiny_model) == {AttentionBackendName.NATIVE}
    assert attention.current_backend(tiny_model) == "sdpa"


@needs_cpu_only
def test_auto_picks_sdpa_on_cpu_without_warning(tiny_model, caplog):
    caplog.set_level(logging.INFO)
    chosen, reason = attention.activate(tiny_model, "auto")
    assert chosen == "sdpa" and "CUDA" in reason
    assert _warnings(caplog) == []


def test_sdpa_matches_the_default_output(tiny_model, tiny_inputs, run_forward, caplog):
    default = run_forward(tiny_model, tiny_inputs, 700.0)
    chosen, reason = attention.activate(tiny_model, "sdpa")
    assert (chosen, reason) == ("sdpa", None)
    assert _warnings(caplog) == []
    assert torch.equal(run_forward(tiny_model, tiny_inputs, 700.0), default)

    attention.restore(tiny_model)
    assert _backends(tiny_model) == {AttentionBackendName.NATIVE}
    assert torch.equal(run_forward(tiny_model, tiny_inputs, 700.0), default)


def test_unknown_backend_is_rejected(tiny_model):
    with pytest.raises(ParameterError):
        attention.activate(tiny_model, "flash")


def test_the_model_reports_its_compute_dtype(tiny_model):
    assert attention.compute_dtype(tiny_model) == torch.float32
    assert attention.compute_dtype(tiny_model.to(torch.bfloat16)) == torch.bfloat16


GOOD = dict(cuda=True, capability=(9, 0), package=True, dtype=torch.bfloat16, head_dim=128)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"cuda": False, "capability": None}, "CUDA"),
        ({"capability": (7, 5)}, "7.5"),
        ({"package": False}, "sageattention"),
        ({"dtype": torch.float32}, "float32"),
        ({"head_dim": 256}, "head dim 256"),
    ],
)
def test_sage_blockers_name_the_reason(change, words):
    reason = attention.sage_blocker(**{**GOOD, **change})
    assert reason is not None and words in reason


def test_sage_blocker_accepts_supported_setups():
    assert attention.sage_blocker(**GOOD) is None
    assert attention.sage_blocker(**{**GOOD, "dtype": torch.float16, "head_dim": 64, "capability": (8, 6)}) is None

"""The job's overall progress across encode, sampling and decode (orchestrator/dispatch/progress.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.dispatch import progress

GRAPH = json.loads((Path(__file__).resolve().parents[3] / "workflows" / "i2v_480p" / "3" / "api.json").read_text())
ENCODE, SAMPLER, DECODE = "9", "10", "11"  # WanI2VImageEncode, WanI2VSampler, WanI2VDecode


def test_the_bar_moves_through_encode_sampling_and_decode_in_order_and_stays_below_done() -> None:
    assert [GRAPH[n]["class_type"] for n in (ENCODE, SAMPLER, DECODE)] == ["WanI2VImageEncode", "WanI2VSampler", "WanI2VDecode"]
    run = [(ENCODE, 1, 5), (ENCODE, 5, 5), (SAMPLER, 1, 4), (SAMPLER, 2, 4), (SAMPLER, 4, 4), (DECODE, 1, 5), (DECODE, 5, 5)]
    shares = [progress.overall(GRAPH, node, value, total) for node, value, total in run]
    assert shares == sorted(shares) and shares[0] > 0 and shares[-1] < 1
    assert shares[1] == pytest.approx(progress.BEFORE)  # the encodes end where the sampler starts
    assert shares[3] == pytest.approx(0.5)  # half the steps: half the bar
    assert shares[4] == pytest.approx(progress.AFTER) and shares[5] > shares[4]  # decoding moves it on


def test_a_graph_without_a_sampler_follows_its_nodes_steps() -> None:
    graph = {"1": {"class_type": "WanI2VDecode", "inputs": {}}}
    assert progress.overall(graph, "1", 2, 4) == 0.5

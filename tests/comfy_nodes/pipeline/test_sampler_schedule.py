"""UniPC timesteps and sigmas equal the official Wan2.1 FlowUniPCMultistepScheduler's.

data/official_flow_unipc.json was computed from the official scheduler's own formulas
(built with shift=1, then set_timesteps(steps, shift=s), as wan/image2video.py does):
an unshifted grid from its largest training sigma (0.999 in float32) to 0, shifted,
timesteps = int64(1000 * sigma), and a final sigma of 0, all in float32.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from comfy_nodes.pipeline import sampling

TABLE = json.loads((Path(__file__).parent / "data" / "official_flow_unipc.json").read_text())["schedules"]


@pytest.mark.parametrize("key", sorted(TABLE))
def test_unipc_schedule_matches_the_official_one(key: str) -> None:
    steps, shift = (float(part.split("=")[1]) for part in key.split(","))
    sched = sampling.make_scheduler("unipc", shift)
    sampling.set_steps(sched, int(steps))
    assert sched.timesteps.tolist() == TABLE[key]["timesteps"]
    assert torch.equal(sched.sigmas, torch.tensor(TABLE[key]["sigmas"], dtype=torch.float32))


def test_diffusers_default_grid_would_differ() -> None:
    """Why the sigmas are passed in: diffusers' own flow grid gives other timesteps."""
    sched = sampling.make_scheduler("unipc", 5.0)
    sched.set_timesteps(40)
    assert sched.timesteps.tolist() != TABLE["steps=40,shift=5"]["timesteps"]

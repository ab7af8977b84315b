"""`wan-i2v comfy serve --cp-ulysses 2`: one server, two ranks, each prompt split over both.

The ranks run on the CPU over gloo (WAN_I2V_CP_GLOO=1), the path a GPU machine takes over NCCL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image
from real_comfyui_support import free_port
from websockets.sync.client import connect

from comfy_nodes.accel import context_parallel

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SAMPLER = "10"  # the sampler's node id in i2v_480p@2
SAVE = "12"

pytestmark = pytest.mark.e2e


def _prompt(tmp_path: Path, models: Path, **values: Any) -> dict[str, Any]:
    """i2v_480p@2 bound to the two-head demo model at a small size; the image goes to data/input."""
    from orchestrator.runner import DEMO_MODEL_PARAMS, RunRequest, plan_run

    image = tmp_path / "cat.png"
    Image.new("RGB", (160, 120), (200, 120, 40)).save(image)
    # A small clip whose 2 x 4 x 6 video tokens split evenly over two ranks.
    params = {**DEMO_MODEL_PARAMS, "diffusion_model": "two_heads.safetensors", "resolution": "custom", "width": 96,
              "height": 64, "num_frames": 5, "steps": 2, "prompt": "a cat", **values}  # fmt: skip
    plan = plan_run(RunRequest(workflow="i2v_480p@2", image=image, out=tmp_path / "x.mp4", models=models,
                               params=params, preset="workflow"))  # fmt: skip
    (tmp_path / "data" / "input").mkdir(parents=True, exist_ok=True)
    (tmp_path / "data" / "input" / plan.image_name).write_bytes(image.read_bytes())
    return plan.prompt


class Server:
    def __init__(self, tmp_path: Path, models: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(ROOT), context_parallel.GLOO_ENV: "1", **(env or {})}
        env.pop(context_parallel.CP_ENV, None)
        self.log = (tmp_path / f"server-{self.port}.log").open("w+")
        command = [sys.executable, "-m", "orchestrator.cli.main", "comfy", "serve", "--port", str(self.port),
                   "--models", str(models), "--data", str(tmp_path / "data"), *args]  # fmt: skip
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            try:
                requests.get(self.url + "/system_stats", timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.3)
        raise AssertionError("the server did not answer: " + self.output())

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def submit(self, prompt: dict[str, Any], client_id: str = "test") -> str:
        response = requests.post(self.url + "/prompt", json={"prompt": prompt, "client_id": client_id}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["prompt_id"]

    def finished(self, prompt_id: str, timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entry = requests.get(f"{self.url}/history/{prompt_id}", timeout=5).json().get(prompt_id)
            if entry is not None:
                return entry
            assert self.process.poll() is None, self.output()
            time.sleep(0.3)
        raise AssertionError(f"prompt {prompt_id} did not finish: " + self.output())

    def video(self, entry: dict[str, Any], dest: Path) -> list[bytes]:
        import imageio_ffmpeg

        assert entry["status"]["status_str"] == "success", entry["status"]
        (item,) = [v for ui in entry["outputs"].values() for v in ui.get("images", []) + ui.get("gifs", [])
                   if str(v.get("filename", "")).endswith(".mp4")]  # fmt: skip
        response = requests.get(self.url + "/view", params={k: item[k] for k in ("filename", "subfolder", "type")}, timeout=30)
        dest.write_bytes(response.content)
        reader = imageio_ffmpeg.read_frames(str(dest))
        next(reader)
        return list(reader)

    def stop(self) -> int:
        os.killpg(self.process.pid, signal.SIGINT)  # Ctrl-C in a terminal: every process of the group
        try:
            return self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)


def _cached(entry: dict[str, Any]) -> list[str]:
    return [node for event, data in entry["status"]["messages"] if event == "execution_cached" for node in data["nodes"]]


def _interrupt_while_sampling(server: Server, prompt: dict[str, Any]) -> dict[str, Any]:
    client_id = uuid.uuid4().hex
    with connect(f"ws://127.0.0.1:{server.port}/ws?clientId={client_id}", open_timeout=10) as ws:
        prompt_id = server.submit(prompt, client_id)
        while True:  # until the sampler has run one step on both ranks
            frame = ws.recv(timeout=300)
            if isinstance(frame, str):
                message = json.loads(frame)
                data = message.get("data", {})
                if message["type"] == "progress" and data.get("node") == SAMPLER and data.get("value", 0) >= 1:
                    break
        requests.post(server.url + "/interrupt", json={"prompt_id": prompt_id}, timeout=10)
    return server.finished(prompt_id)


def test_a_split_server_makes_the_video_of_one_process_and_survives_an_interrupt(
    tmp_path: Path, two_head_models: Path
) -> None:
    prompt = _prompt(tmp_path, two_head_models)
    split = Server(tmp_path, two_head_models, "--cp-ulysses", "2")
    try:
        first = split.finished(split.submit(prompt))
        split_frames = split.video(first, tmp_path / "split.mp4")
        (stats,) = [s for ui in first["outputs"].values() for s in ui.get("wan_stats", [])]
        assert stats["context_parallel"] == {"ulysses": 2}

        # Only the file name changes: the sampler is cached on both ranks (the follower runs no decode
        # or save, so it has nothing to re-run) and rank 0 saves again without a pass.
        renamed = _prompt(tmp_path, two_head_models)
        renamed[SAVE]["inputs"]["filename_prefix"] = "renamed"
        resaved = split.finished(split.submit(renamed), timeout=60)
        assert split.video(resaved, tmp_path / "renamed.mp4") == split_frames
        assert SAMPLER in _cached(resaved)

        # Rank 0 stops between two passes; the other rank is told so and stops too, instead of
        # waiting in the next exchange: the next prompt runs on both.
        stopped = _interrupt_while_sampling(split, _prompt(tmp_path, two_head_models, steps=40, seed=1))
        assert stopped["status"]["status_str"] == "error"
        assert "execution_interrupted" in [m[0] for m in stopped["status"]["messages"]]
        requests.post(split.url + "/free", json={"unload_models": True}, timeout=10)  # both ranks drop their models
        again = split.finished(split.submit(_prompt(tmp_path, two_head_models, seed=2)), timeout=120)
        assert len(split.video(again, tmp_path / "again.mp4")) == len(split_frames)
    finally:
        code = split.stop()
    assert code == 0, split.output()
    assert "Error" not in split.output() and "Traceback" not in split.output()

    single = Server(tmp_path, two_head_models)
    try:
        reference = single.video(single.finished(single.submit(prompt)), tmp_path / "one.mp4")
    finally:
        single.stop()
    assert split_frames == reference


def _fault_server(tmp_path: Path, models: Path, faults: str, **env: str) -> Server:
    """A split server whose passes fail where `faults` says (pass_faults/sitecustomize.py)."""
    from comfy_nodes.accel import rank_lead

    extra = {"PYTHONPATH": f"{HERE / 'pass_faults'}{os.pathsep}{ROOT}", "TEST_PASS_FAULTS": faults,
             rank_lead.SETTLE_ENV: "3", **env}  # fmt: skip
    return Server(tmp_path, models, "--cp-ulysses", "2", env=extra)


def _ended(server: Server, timeout: float = 90) -> int:
    try:
        return server.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("the split server still runs: " + server.output()) from None


def test_a_failure_inside_a_split_pass_on_every_rank_is_survived_on_one_rank_stops_the_server(
    tmp_path: Path, two_head_models: Path
) -> None:
    # Two passes a prompt (cfg 1, 2 steps): pass 1 fails on both ranks; passes 2-3 run; pass 5 fails on rank 1.
    server = _fault_server(tmp_path, two_head_models, "1:0,1;5:1")
    try:
        failed = server.finished(server.submit(_prompt(tmp_path, two_head_models, cfg=1.0, seed=1)))
        assert failed["status"]["status_str"] == "error"
        assert "injected fault in split pass 1 on rank 0" in json.dumps(failed["status"]["messages"])
        # Both ranks left the pass the same way, showed it to each other, and go on.
        server.video(server.finished(server.submit(_prompt(tmp_path, two_head_models, cfg=1.0, seed=2))), tmp_path / "a.mp4")

        # Rank 1 alone fails inside a pass: rank 0 waits in that pass's exchange, which nothing but an
        # exit ends. Rank 1 waits 3 s for rank 0 to end the prompt, then stops, and with it every rank.
        server.submit(_prompt(tmp_path, two_head_models, cfg=1.0, seed=3))
        assert _ended(server) != 0
    finally:
        if server.process.poll() is None:
            server.stop()
    output = server.output()
    assert "Rank 1 of 2 failed" in output and "rank 0 did not end the job within 3 s" in output, output


def test_a_failure_inside_a_split_pass_on_rank_0_alone_stops_the_server(tmp_path: Path, two_head_models: Path) -> None:
    server = _fault_server(tmp_path, two_head_models, "1:0")
    try:
        failed = server.finished(server.submit(_prompt(tmp_path, two_head_models, cfg=1.0)))
        assert "injected fault in split pass 1 on rank 0" in json.dumps(failed["status"]["messages"])
        assert _ended(server) == 1  # rank 1 waits in the exchange: rank 0 stops after 3 s, and every rank
    finally:
        if server.process.poll() is None:
            server.stop()
    output = server.output()
    assert "the other ranks did not end the job within 3 s" in output, output
    assert "Traceback" not in output


def test_failures_after_the_last_pass_leave_the_ranks_in_step(tmp_path: Path, two_head_models: Path) -> None:
    # cfg 1, 2 steps: two passes a prompt. Pass 2 fails on rank 0 after its exchanges, as a late
    # interrupt does at the last step's tick; pass 4 on rank 1, while rank 0 then decodes for longer
    # than the 3 s the ranks give each other after a failure inside a pass.
    server = _fault_server(tmp_path, two_head_models, "2a:0;4a:1", TEST_SLOW_DECODE_S="5")
    try:
        prompt = _prompt(tmp_path, two_head_models, cfg=1.0, seed=1)
        failed = server.finished(server.submit(prompt))
        assert "injected fault after the exchanges of split pass 2 on rank 0" in json.dumps(failed["status"]["messages"])

        # Rank 1 stopped at the sampler's end too, so it holds no sampled latent that rank 0 lacks:
        # the same prompt samples on both ranks again instead of leaving rank 0 in a pass alone.
        again = server.finished(server.submit(prompt))
        frames = server.video(again, tmp_path / "again.mp4")
        assert SAMPLER not in _cached(again)

        # Rank 1 failed after pass 4's exchanges and saw rank 0 end its sampler, so it waited for the
        # end of the prompt however long the decode took: the server still runs.
        assert server.process.poll() is None, server.output()
        later = server.finished(server.submit(_prompt(tmp_path, two_head_models, cfg=1.0, seed=2)))
        assert len(server.video(later, tmp_path / "later.mp4")) == len(frames)
    finally:
        code = server.stop()
    assert code == 0, server.output()

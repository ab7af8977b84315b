"""What `make run` starts, used from the command line: `wan-i2v serve --dev` with an embedded instance and the
demo model; `wan-i2v login`, `submit --wait --out`, `status`, `download`. The video is a real MP4 (of noise)."""

from __future__ import annotations

import re
import subprocess
import sys

import imageio_ffmpeg
import pytest
from PIL import Image

from service_support import ROOT, Proc, cli, free_port, service_env, wait_for

pytestmark = pytest.mark.e2e
def readme_api_block() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.S)
    found = [b for b in blocks if "/api/generate" in b]
    assert len(found) == 1, "README.md should hold exactly one Python client block for the job API"
    return found[0]


SMALL = ["--set", "steps=2", "--set", "num_frames=5", "--set", "resolution=custom", "--set", "width=64",
         "--set", "height=48", "--set", "seed=3"]


def test_serve_dev_with_the_demo_model_and_the_client_commands(tmp_path, demo_models) -> None:
    import httpx

    port, comfy_port = free_port(), free_port()
    env = service_env(tmp_path, WAN_MODELS_DIR=str(demo_models), EMBEDDED_COMFY_PORT=str(comfy_port))
    env.pop("JWT_SECRET")
    server = Proc([sys.executable, "-m", "orchestrator.cli.main", "serve", "--dev", "--port", str(port),
                   "--embedded", "1"], env, tmp_path / "serve.log")
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(url + "/api/health", timeout=2).json()["instances_up"] == 1, 90, "the service")
        log = (tmp_path / "serve.log").read_text()
        assert "DEV MODE" in log
        password = (tmp_path / "data" / "dev-admin.txt").read_text().strip()
        assert f"password '{password}'" in log
        done = cli("login", "--server", url, "--username", "admin", "--password", password, env=env)
        assert done.returncode == 0, done.stderr
        image = tmp_path / "start.png"
        Image.new("RGB", (96, 72), (120, 60, 200)).save(image)
        out = tmp_path / "video.mp4"
        done = cli("submit", str(image), "--prompt", "a boat at sea", *SMALL, "--set", "cache=magcache",
                   "--server", url, "--out", str(out), env=env)
        assert done.returncode == 0, done.stderr + (tmp_path / "serve.log").read_text()[-3000:]
        job_id = done.stdout.splitlines()[0].strip()
        lines = done.stderr.splitlines()  # plain progress lines, not a TTY bar
        assert lines[-1].startswith("succeeded 100.0%") and "\r" not in done.stderr
        # A line per change the stream saw: a job this small may finish between two of its reads, so
        # not every stage need show, but each running line is plain and its steps name their stage.
        running = [line for line in lines if line.startswith("running")]
        assert running, done.stderr
        assert all(re.fullmatch(r"running +\d+\.\d% step \d+/\d+ \S.*", line.strip()) or "step" not in line
                   for line in running), done.stderr  # fmt: skip
        probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(out)],
                               capture_output=True, text=True)
        assert "Video: h264" in probe.stderr and "64x48" in probe.stderr
        # What the sampler did reaches the job record: passes per CFG branch and the cache that ran.
        token = httpx.post(url + "/api/auth/login", json={"username": "admin", "password": password}).json()["access_token"]
        sampler = httpx.get(f"{url}/api/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"}).json()["timings"]["sampler"]
        assert sampler["cache"]["kind"] == "magcache" and set(sampler["passes"]) == {"cond", "uncond"}
        assert sum(p["computed"] + p["skipped"] for p in sampler["passes"].values()) == 2 * 2  # 2 steps, 2 branches
        status = cli("status", job_id, "--server", url, env=env)
        assert status.returncode == 0 and "succeeded" in status.stdout
        poster = cli("download", job_id, "--file", "poster", "--out", str(tmp_path / "poster.png"), "--server", url,
                     env=env)
        assert poster.returncode == 0 and Image.open(tmp_path / "poster.png").size == (64, 48)
        # Into a folder: each file under the server's name for it, never over another one.
        folder = tmp_path / "downloads"
        folder.mkdir()
        for args in ([], ["--file", "poster"], []):
            done = cli("download", job_id, *args, "--out", str(folder), "--server", url, env=env)
            assert done.returncode == 0, done.stderr
        videos, posters = sorted(folder.glob("*.mp4")), sorted(folder.glob("*.png"))
        assert len(videos) == 2 and len(posters) == 1 and len(list(folder.iterdir())) == 3
        assert videos[0].name.startswith(job_id) and videos[0].stem.endswith("-2")  # the second video: NAME-2.mp4
        assert all(v.read_bytes() == out.read_bytes() for v in videos)
        assert Image.open(posters[0]).size == (64, 48)
        missing = cli("status", "0" * 32, "--server", url, env=env)
        assert missing.returncode == 1 and "No job" in missing.stderr and "Traceback" not in missing.stderr
        # The README's Python client for the job API, as written (only the port differs).
        code = readme_api_block().replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        Image.new("RGB", (160, 120), (90, 140, 200)).save(tmp_path / "cat.png")
        (tmp_path / "client.py").write_text(code, encoding="utf-8")
        ran = subprocess.run([sys.executable, "client.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                             env={**env, "WAN_I2V_PASSWORD": password})
        assert ran.returncode == 0 and "saved cat.mp4" in ran.stdout, ran.stdout + ran.stderr
        probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(tmp_path / "cat.mp4")],
                               capture_output=True, text=True)
        assert "Video: h264" in probe.stderr and "256x144" in probe.stderr
    finally:
        server.stop()
    with pytest.raises(httpx.ConnectError):  # the embedded instance stopped with the orchestrator
        httpx.get(f"http://127.0.0.1:{comfy_port}/system_stats", timeout=2)

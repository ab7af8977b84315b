"""`models download` against a model hub on 127.0.0.1: checksums, resume after a cut, disk space, offline."""

from __future__ import annotations

import hashlib
import os
import socket
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from deploy_hub_server import Hub, HubServer  # noqa: E402
from deploy_safetensors import (  # noqa: E402
    clip_h_header,
    safetensors_bytes,
    umt5_header,
    vae_header,
    wan_14b_i2v_header,
)

from orchestrator.cli.main import app  # noqa: E402
from orchestrator.deploy import download as dl  # noqa: E402
from orchestrator.deploy import sources  # noqa: E402
from orchestrator.deploy.errors import ChecksumMismatch, DiskSpaceError, DownloadError, ModelSourceError  # noqa: E402

REPO = sources.COMFY_REPO
VAE_KEY = f"{REPO}/split_files/vae/wan_2.1_vae.safetensors"
PAYLOAD = os.urandom(200_000)  # several chunks' worth would be slow; a cut mid-file is what matters


@pytest.fixture(autouse=True)
def _no_hub_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(sources.HUB_ENV, raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("WAN_MODELS_DIR", raising=False)


def _vae_file() -> list[sources.RemoteFile]:
    return [f for f in sources.comfy_files("i2v-14b-480p") if f.dest.startswith("vae/")]


def _get(hub: Hub, dest: Path, **kwargs: object) -> list[dl.Outcome]:
    with dl.make_client() as client:
        files = dl.with_metadata(_vae_file(), client, hub.url)
        return dl.download_files(files, dest, client, hub.url, progress=dl.NoProgress(), backoff_s=0.01, **kwargs)


def test_a_file_is_fetched_and_its_published_sha256_checked(tmp_path: Path) -> None:
    with HubServer(Hub({VAE_KEY: PAYLOAD})) as hub:
        [outcome] = _get(hub, tmp_path)
    target = tmp_path / "vae" / "wan_2.1_vae.safetensors"
    assert outcome.status == "downloaded" and outcome.path == target
    assert target.read_bytes() == PAYLOAD
    assert outcome.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    assert not (tmp_path / "vae" / "wan_2.1_vae.safetensors.part").exists()
    # the redirect (as the hub sends to its CDN) was followed
    assert any(p.endswith("/resolve/main/split_files/vae/wan_2.1_vae.safetensors") for p, _ in hub.requests)


def test_a_cut_connection_resumes_with_a_range_request(tmp_path: Path) -> None:
    with HubServer(Hub({VAE_KEY: PAYLOAD}, cut_after={VAE_KEY: 70_000})) as hub:
        [outcome] = _get(hub, tmp_path)
        ranges = hub.downloads(VAE_KEY)
    assert ranges == [None, "bytes=70000-"]
    assert (tmp_path / outcome.path).read_bytes() == PAYLOAD
    assert outcome.sha256 == hashlib.sha256(PAYLOAD).hexdigest()


def test_a_part_file_from_an_earlier_run_is_resumed(tmp_path: Path) -> None:
    part = tmp_path / "vae" / "wan_2.1_vae.safetensors.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(PAYLOAD[:123_456])
    with HubServer(Hub({VAE_KEY: PAYLOAD})) as hub:
        _get(hub, tmp_path)
        assert hub.downloads(VAE_KEY) == ["bytes=123456-"]
    assert (tmp_path / "vae" / "wan_2.1_vae.safetensors").read_bytes() == PAYLOAD


def test_a_server_without_range_support_starts_over(tmp_path: Path) -> None:
    part = tmp_path / "vae" / "wan_2.1_vae.safetensors.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(PAYLOAD[:5000])
    with HubServer(Hub({VAE_KEY: PAYLOAD}, no_range=True)) as hub:
        _get(hub, tmp_path)
    assert (tmp_path / "vae" / "wan_2.1_vae.safetensors").read_bytes() == PAYLOAD


def test_a_wrong_checksum_is_refused_and_the_download_removed(tmp_path: Path) -> None:
    with HubServer(Hub({VAE_KEY: PAYLOAD}, wrong_sha={VAE_KEY})) as hub, pytest.raises(ChecksumMismatch) as err:
        _get(hub, tmp_path)
    assert "0" * 64 in str(err.value) and hashlib.sha256(PAYLOAD).hexdigest() in str(err.value)
    assert not (tmp_path / "vae" / "wan_2.1_vae.safetensors").exists()
    assert not (tmp_path / "vae" / "wan_2.1_vae.safetensors.part").exists()


def test_a_corrupt_part_file_fails_the_checksum(tmp_path: Path) -> None:
    part = tmp_path / "vae" / "wan_2.1_vae.safetensors.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\xff" * 1000)  # not the file's first bytes
    with HubServer(Hub({VAE_KEY: PAYLOAD})) as hub, pytest.raises(ChecksumMismatch):
        _get(hub, tmp_path)
    assert not (tmp_path / "vae" / "wan_2.1_vae.safetensors").exists()


def test_too_many_cuts_keep_the_part_file_for_the_next_run(tmp_path: Path) -> None:
    with HubServer(Hub({VAE_KEY: PAYLOAD}, cut_after={VAE_KEY: 50_000})) as hub:
        with pytest.raises(DownloadError, match="run the command again to resume"):
            _get(hub, tmp_path, retries=0)
        part = tmp_path / "vae" / "wan_2.1_vae.safetensors.part"
        assert part.stat().st_size == 50_000
        _get(hub, tmp_path)
        assert hub.downloads(VAE_KEY)[-1] == "bytes=50000-"
    assert (tmp_path / "vae" / "wan_2.1_vae.safetensors").read_bytes() == PAYLOAD


def test_too_little_disk_space_fails_before_any_byte_is_fetched(tmp_path: Path) -> None:
    with HubServer(Hub({VAE_KEY: PAYLOAD})) as hub:
        with pytest.raises(DiskSpaceError, match="needs 200.0 kB more"):
            _get(hub, tmp_path, disk_free=lambda _: 10_000_000)  # the 256 MB margin is not there
        assert hub.downloads(VAE_KEY) == []


def test_a_file_in_place_is_kept_and_verified_on_request(tmp_path: Path) -> None:
    target = tmp_path / "vae" / "wan_2.1_vae.safetensors"
    target.parent.mkdir(parents=True)
    target.write_bytes(PAYLOAD)
    with HubServer(Hub({VAE_KEY: PAYLOAD})) as hub:
        [kept] = _get(hub, tmp_path)
        [verified] = _get(hub, tmp_path, verify=True)
        assert hub.downloads(VAE_KEY) == []
    assert kept.status == "present" and verified.status == "verified"
    target.write_bytes(PAYLOAD[:-1] + b"\x00" if PAYLOAD[-1] else PAYLOAD[:-1] + b"\x01")
    with HubServer(Hub({VAE_KEY: PAYLOAD})) as hub, pytest.raises(ChecksumMismatch):
        _get(hub, tmp_path, verify=True)


def test_a_file_the_hub_does_not_list_is_named(tmp_path: Path) -> None:
    other = f"{REPO}/split_files/vae/wan2.2_vae.safetensors"
    with HubServer(Hub({other: b"x"})) as hub, pytest.raises(ModelSourceError, match="wan2.2_vae.safetensors"):
        _get(hub, tmp_path)


# ---------------------------------------------------------------- the command


def _comfy_hub(precision: str = "bf16") -> dict[str, bytes]:
    contents = {
        "diffusion_models": safetensors_bytes(wan_14b_i2v_header("BF16")),
        "text_encoders": safetensors_bytes(umt5_header()),
        "clip_vision": safetensors_bytes(clip_h_header()),
        "vae": safetensors_bytes(vae_header()),
    }
    return {
        f"{f.repo}/{f.path}": contents[f.dest.split("/")[0]] for f in sources.comfy_files("i2v-14b-480p", precision)
    }


def test_the_command_fetches_a_variant_that_models_check_then_accepts(tmp_path: Path) -> None:
    runner = CliRunner()
    with HubServer(Hub(_comfy_hub())) as hub:
        result = runner.invoke(
            app, ["models", "download", "--variant", "i2v-14b-480p", "--dest", str(tmp_path), "--base-url", hub.url]
        )
    assert result.exit_code == 0, result.output
    assert "4 fetched" in result.output
    for name in (
        "diffusion_models/wan2.1_i2v_480p_14B_bf16.safetensors",
        "text_encoders/umt5_xxl_fp16.safetensors",
        "clip_vision/clip_vision_h.safetensors",
        "vae/wan_2.1_vae.safetensors",
    ):
        assert (tmp_path / name).is_file(), name
    check = runner.invoke(app, ["models", "check", "--models", str(tmp_path), "--workflow", "i2v_480p"])
    assert check.exit_code == 0, check.output
    assert "ready" in check.output and "MISSING" not in check.output
    assert "WAN 2.1 I2V transformer 14B" in check.output


def test_fp8_names_the_scaled_files(tmp_path: Path) -> None:
    with HubServer(Hub(_comfy_hub("fp8"))) as hub:
        result = CliRunner().invoke(
            app,
            [
                "models",
                "download",
                "--variant",
                "i2v-14b-480p",
                "--precision",
                "fp8",
                "--dest",
                str(tmp_path),
                "--base-url",
                hub.url,
            ],
        )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "diffusion_models" / "wan2.1_i2v_480p_14B_fp8_scaled.safetensors").is_file()
    assert (tmp_path / "text_encoders" / "umt5_xxl_fp8_e4m3fn_scaled.safetensors").is_file()


def test_the_hub_url_can_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with HubServer(Hub(_comfy_hub())) as hub:
        monkeypatch.setenv(sources.HUB_ENV, hub.url)
        result = CliRunner().invoke(
            app, ["models", "download", "--variant", "i2v-14b-480p", "--dest", str(tmp_path), "--dry-run"]
        )
    assert result.exit_code == 0, result.output
    assert f"from {hub.url}" in result.output and "to fetch" in result.output
    assert not any(tmp_path.rglob("*.safetensors"))


def test_diffusers_format_fetches_the_pipeline_folder_only(tmp_path: Path) -> None:
    repo = sources.DIFFUSERS_REPOS["i2v-14b-720p"]
    files = {
        f"{repo}/model_index.json": b'{"transformer": ["diffusers", "WanTransformer3DModel"]}',
        f"{repo}/transformer/config.json": b'{"num_layers": 40}',
        f"{repo}/transformer/diffusion_pytorch_model.safetensors": safetensors_bytes(wan_14b_i2v_header()),
        f"{repo}/examples/i2v_input.JPG": b"not part of the pipeline",
    }
    with HubServer(Hub(files)) as hub:
        result = CliRunner().invoke(
            app,
            [
                "models",
                "download",
                "--variant",
                "i2v-14b-720p",
                "--format",
                "diffusers",
                "--dest",
                str(tmp_path),
                "--base-url",
                hub.url,
            ],
        )
    assert result.exit_code == 0, result.output
    folder = tmp_path / "diffusers" / "Wan2.1-I2V-14B-720P-Diffusers"
    assert (folder / "model_index.json").is_file()
    assert (folder / "transformer" / "diffusion_pytorch_model.safetensors").is_file()
    assert not (folder / "examples").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--variant", "i2v-14b-1080p"], "Unknown variant 'i2v-14b-1080p'"),
        (["--variant", "i2v-14b-480p", "--precision", "int4"], "Unknown precision 'int4'"),
        (["--variant", "i2v-14b-480p", "--format", "diffusers", "--precision", "fp8"], "publish one precision"),
    ],
)
def test_bad_choices_are_explained(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(
        app, ["models", "download", *args, "--dest", str(tmp_path), "--base-url", "http://127.0.0.1:9"]
    )
    assert result.exit_code == 1
    assert message in result.output


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_offline_fails_clearly_before_writing_anything(tmp_path: Path) -> None:
    dest = tmp_path / "models"
    result = CliRunner().invoke(
        app,
        [
            "models",
            "download",
            "--variant",
            "i2v-14b-480p",
            "--dest",
            str(dest),
            "--base-url",
            f"http://127.0.0.1:{_closed_port()}",
        ],
    )
    assert result.exit_code == 1
    assert "looks offline" in result.output and "--base-url" in result.output
    assert "Traceback" not in result.output
    assert not dest.exists()


def test_a_connection_refused_mid_download_is_an_offline_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/f"
    with httpx.Client() as client, pytest.raises(dl.OfflineError, match="looks offline"):
        dl.fetch(client, url, tmp_path / "f", 10, None, dl.NoProgress(), retries=1, backoff_s=0.01)


def _lora_header() -> dict[str, tuple[str, tuple[int, ...]]]:
    return {
        "diffusion_model.blocks.0.self_attn.q.lora_down.weight": ("BF16", (64, 5120)),
        "diffusion_model.blocks.0.self_attn.q.lora_up.weight": ("BF16", (5120, 64)),
    }


def test_the_distillation_lora_is_fetched_into_loras(tmp_path: Path) -> None:
    [lora] = sources.distill_lora_files()
    assert (lora.repo, lora.path) == (
        "Kijai/WanVideo_comfy", "Lightx2v/lightx2v_I2V_14B_480p_cfg_step_distill_rank64_bf16.safetensors"
    )
    runner = CliRunner()
    hub_files = {**_comfy_hub(), f"{lora.repo}/{lora.path}": safetensors_bytes(_lora_header())}
    with HubServer(Hub(hub_files)) as hub:
        only = runner.invoke(app, ["models", "download", "--distill-lora", "--dest", str(tmp_path), "--base-url", hub.url])
        assert only.exit_code == 0, only.output
        assert "1 fetched" in only.output
        assert (tmp_path / lora.dest).is_file()
        both = runner.invoke(app, ["models", "download", "--variant", "i2v-14b-480p", "--distill-lora",
                                   "--dest", str(tmp_path), "--base-url", hub.url])
    assert both.exit_code == 0, both.output
    assert "4 fetched, 1 already in place" in both.output
    check = runner.invoke(app, ["models", "check", "--models", str(tmp_path), "--workflow", "i2v_480p_fast"])
    assert check.exit_code == 0, check.output
    assert "LoRA: 1 low-rank modules, rank 64" in check.output


def test_download_needs_a_variant_or_the_lora(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["models", "download", "--dest", str(tmp_path), "--base-url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "--distill-lora" in result.output

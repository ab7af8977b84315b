"""`wan-i2v compose --gpus N [--hosts ...]`: the override's services, and that it fits the base file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from orchestrator.cli.main import app
from orchestrator.deploy import compose

BASE = Path(__file__).resolve().parents[3] / "docker" / "docker-compose.yml"


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["compose", *args])
    return result.exit_code, result.output


def _merge(base: dict, override: dict) -> dict:
    """Compose's merge for what these files use: services and volumes by name (new names added)."""
    merged = {**base, "services": dict(base["services"]), "volumes": dict(base.get("volumes") or {})}
    for name, service in override.get("services", {}).items():
        assert name not in merged["services"], f"override redefines {name}"
        merged["services"][name] = service
    merged["volumes"].update(override.get("volumes") or {})
    return merged


def test_four_gpus_add_a_comfyui_and_a_worker_for_gpus_1_to_3() -> None:
    code, text = _cli("--gpus", "4")
    assert code == 0
    doc = yaml.safe_load(text)
    assert doc == compose.compose_override(4)
    assert sorted(doc["services"]) == sorted(
        [f"comfyui-gpu{i}" for i in (1, 2, 3)] + [f"worker-gpu{i}" for i in (1, 2, 3)]
    )
    for i in (1, 2, 3):
        comfy = doc["services"][f"comfyui-gpu{i}"]
        [device] = comfy["deploy"]["resources"]["reservations"]["devices"]
        assert device == {"driver": "nvidia", "device_ids": [str(i)], "capabilities": ["gpu"]}
        assert comfy["ports"] == [f"${{COMFYUI_BIND:-127.0.0.1}}:{8188 + i}:8188"]
        assert f"comfyui-gpu{i}-data:/data" in comfy["volumes"] and "models:/models:ro" in comfy["volumes"]
        worker = doc["services"][f"worker-gpu{i}"]
        assert worker["command"] == [
            "wan-i2v",
            "worker",
            "--comfy",
            f"http://comfyui-gpu{i}:8188",
            "--queue",
            f"gpu{i}",
        ]
        assert worker["depends_on"][f"comfyui-gpu{i}"] == {"condition": "service_started"}
        assert worker["environment"]["BROKER_URL"] == "${BROKER_URL:-redis://redis:6379/0}"
        assert doc["volumes"][f"comfyui-gpu{i}-data"] == {}
    assert text.startswith("# Made by `wan-i2v compose --gpus 4`")


def test_the_base_files_gpu0_is_what_the_generator_makes() -> None:
    base = yaml.safe_load(BASE.read_text())
    for name, service in compose.gpu_services(0).items():
        assert base["services"][name] == service, name
    assert base["services"]["worker-gpu0"]["environment"] == compose.WORKER_ENV


@pytest.mark.parametrize("gpus", [1, 2, 8])
def test_base_plus_override_is_consistent(gpus: int) -> None:
    merged = _merge(yaml.safe_load(BASE.read_text()), yaml.safe_load(compose.render_override(gpus)))
    services = merged["services"]
    comfy = [s for n, s in services.items() if n.startswith("comfyui-gpu")]
    workers = [s for n, s in services.items() if n.startswith("worker-gpu")]
    assert len(comfy) == len(workers) == gpus
    devices = [d for s in comfy for d in s["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"]]
    assert sorted(devices, key=int) == [str(i) for i in range(gpus)]
    host_ports = [p.rsplit(":", 2)[-2] for s in comfy for p in s["ports"]]
    assert len(set(host_ports)) == gpus
    queues = [s["command"][s["command"].index("--queue") + 1] for s in workers]
    assert sorted(queues) == sorted(f"gpu{i}" for i in range(gpus))
    for name, service in services.items():
        for dep in service.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown {dep}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source in merged["volumes"], f"{name} mounts undeclared volume {source}"


def test_one_gpu_needs_no_extra_services() -> None:
    code, text = _cli("--gpus", "1")
    assert code == 0
    assert yaml.safe_load(text) == {"services": {}}


def test_hosts_give_workers_here_for_comfyui_there() -> None:
    code, text = _cli("--gpus", "2", "--hosts", "gpu-box-1", "--hosts", "10.0.0.7")
    assert code == 0
    services = yaml.safe_load(text)["services"]
    assert sorted(services) == [
        "worker-10-0-0-7-gpu0",
        "worker-10-0-0-7-gpu1",
        "worker-gpu-box-1-gpu0",
        "worker-gpu-box-1-gpu1",
    ]
    worker = services["worker-gpu-box-1-gpu1"]
    assert worker["command"] == ["wan-i2v", "worker", "--comfy", "http://gpu-box-1:8189", "--queue", "gpu-box-1-gpu1"]
    assert "deploy" not in worker and not any(n.startswith("comfyui") for n in services)
    assert set(worker["depends_on"]) == {"migrate", "redis"}
    # a comma list is the same as repeating the option
    assert _cli("--gpus", "2", "--hosts", "gpu-box-1,10.0.0.7")[1].split("\n", 1)[1] == text.split("\n", 1)[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gpus", "0"], "between 1 and 64"),
        (["--gpus", "65"], "between 1 and 64"),
        (["--gpus", "2", "--hosts", "bad host"], "not a host name"),
        (["--gpus", "2", "--hosts", "box", "--hosts", "BOX"], "given twice"),
    ],
)
def test_bad_arguments_are_explained(args: list[str], message: str) -> None:
    code, text = _cli(*args)
    assert code == 1 and message in text


def test_the_emitter_round_trips_awkward_strings() -> None:
    data = {
        "services": {"a": {"command": ["sh", "-c", 'echo "x: #y" \\ done'], "environment": {"K": "ünï: {}"}}},
        "yes": "no",
        "on": True,
        "n": 3,
        "empty": {},
        "none": [],
        "nested": [[1, 2], {"k": [{}]}],
    }
    assert yaml.safe_load(compose.to_yaml(data)) == data

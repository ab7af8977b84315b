"""docker/docker-compose.yml: services, ports, GPU reservations, volumes, health checks, settings from .env."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from docker_files import COMPOSE, compose_variables, env_example  # noqa: E402

SERVICES = {"redis", "postgres", "migrate", "orchestrator", "comfyui-gpu0", "worker-gpu0", "jupyter", "flower"}


@pytest.fixture(scope="module")
def doc() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(doc: dict) -> dict:
    return doc["services"]


def _published(service: dict) -> dict[str, str]:
    """container port -> host port."""
    out = {}
    for entry in service.get("ports", []):
        parts = _defaults(entry).split(":")
        out[parts[-1]] = parts[-2]
    return out


def _defaults(value: str) -> str:
    """A compose value as with an empty .env.

    ${NAME:-default} gives the default; ${NAME} and ${NAME:?message} give nothing.
    """
    pattern = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-?])([^${}]*))?\}")
    while True:
        new = pattern.sub(lambda m: m.group(3) or "" if m.group(2) == "-" else "", value)
        if new == value:
            return new
        value = new


def test_the_services(services: dict) -> None:
    assert set(services) == SERVICES


def test_orchestrator_on_8000_after_the_migrations(services: dict) -> None:
    orch = services["orchestrator"]
    assert _published(orch)["8000"] == "8000"
    assert orch["command"] == ["wan-i2v", "serve"]
    assert orch["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert orch["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert orch["depends_on"]["redis"] == {"condition": "service_healthy"}
    migrate = services["migrate"]
    assert migrate["command"] == ["wan-i2v", "db", "upgrade"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert migrate["environment"]["DATABASE_URL"] == orch["environment"]["DATABASE_URL"]
    env = orch["environment"]
    assert env["EMBEDDED_COMFY"] == "0"  # the workers drive ComfyUI; none embedded
    assert (env["HOST"], env["PORT"]) == ("0.0.0.0", "8000")
    assert _defaults(env["BROKER_URL"]) == "redis://redis:6379/0"
    assert _defaults(env["DATABASE_URL"]) == "postgresql://wan:@postgres:5432/wan_i2v"


def test_redis_is_append_only_without_eviction(services: dict) -> None:
    command = services["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert "redis-data:/data" in services["redis"]["volumes"]
    assert "6379" not in _published(services["redis"])  # not published on the host


def test_postgres_keeps_its_data_in_a_volume(doc: dict, services: dict) -> None:
    pg = services["postgres"]
    assert "db:/var/lib/postgresql/data" in pg["volumes"]
    assert "db" in doc["volumes"]
    assert not _published(pg)


def test_gpu0_comfyui_is_pinned_to_its_gpu_and_its_worker_drives_it(services: dict) -> None:
    comfy = services["comfyui-gpu0"]
    [device] = comfy["deploy"]["resources"]["reservations"]["devices"]
    assert device == {"driver": "nvidia", "device_ids": ["0"], "capabilities": ["gpu"]}
    assert _published(comfy)["8188"] == "8188"
    assert comfy["ports"][0].startswith("${COMFYUI_BIND:-127.0.0.1}:")  # ComfyUI has no login: local by default
    assert "models:/models:ro" in comfy["volumes"]
    worker = services["worker-gpu0"]
    assert worker["command"] == ["wan-i2v", "worker", "--comfy", "http://comfyui-gpu0:8188", "--queue", "gpu0"]
    assert worker["image"] == services["orchestrator"]["image"]  # the same image runs the worker


def test_volumes_for_models_videos_uploads_and_the_database(doc: dict, services: dict) -> None:
    assert {"models", "videos", "uploads", "db"} <= set(doc["volumes"])
    orch = services["orchestrator"]["volumes"]
    assert {"models:/models:ro", "videos:/app/videos", "uploads:/app/uploads"} <= set(orch)
    assert {"videos:/app/videos", "uploads:/app/uploads"} <= set(services["worker-gpu0"]["volumes"])
    for name, service in services.items():
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in doc["volumes"], f"{name}: {volume}"
    assert services["orchestrator"]["environment"]["VIDEOS_DIR"] == "/app/videos"
    assert services["orchestrator"]["environment"]["UPLOADS_DIR"] == "/app/uploads"
    assert services["orchestrator"]["environment"]["WAN_MODELS_DIR"] == "/models"


def test_optional_profiles(services: dict) -> None:
    jupyter, flower = services["jupyter"], services["flower"]
    assert jupyter["profiles"] == ["jupyter"] and flower["profiles"] == ["flower"]
    assert _published(jupyter)["8888"] == "8888"
    assert jupyter["build"]["target"] == "jupyter"
    assert _published(flower)["5555"] == "5555"
    assert "FLOWER_BASIC_AUTH" in " ".join(flower["command"])
    for name, service in services.items():
        if name not in ("jupyter", "flower"):
            assert "profiles" not in service, f"{name} must start by default"


def test_health_checks(services: dict) -> None:
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"][1]
    # orchestrator and ComfyUI use their images' HEALTHCHECK (tests/docker/test_dockerfiles.py); nothing turns it off
    for name in ("orchestrator", "comfyui-gpu0"):
        assert "healthcheck" not in services[name]
    for name in ("worker-gpu0", "migrate"):  # no HTTP server in these
        assert services[name]["healthcheck"] == {"disable": True}


def test_every_variable_the_compose_file_uses_is_in_env_example() -> None:
    used = compose_variables(COMPOSE.read_text())
    documented = set(env_example())
    assert used, "no variables found: the parser is broken"
    assert used - documented == set()


def test_required_secrets_have_no_default() -> None:
    text = COMPOSE.read_text()
    for name in ("JWT_SECRET", "POSTGRES_PASSWORD"):
        assert re.search(rf"\$\{{{name}:\?[^}}]+\}}", text), f"{name} must be required (${{{name}:?message}})"
        assert not re.search(rf"\$\{{{name}:?-[^}}]", text), f"{name} must have no non-empty default"


def test_no_secret_values_in_the_compose_file(services: dict) -> None:
    secretish = re.compile(r"(SECRET|PASSWORD|TOKEN|AUTH|_KEY)$")
    for name, service in services.items():
        env = service.get("environment", {})
        for key, value in env.items():
            if secretish.search(key):
                assert value.startswith("${") and _defaults(value) == "", f"{name}.{key} has a literal value"
            if "URL" in key:
                password = re.search(r"//[^:/@]+:([^@]*)@", _defaults(value))
                assert not password or password.group(1) == "", f"{name}.{key} embeds a password"

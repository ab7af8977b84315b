"""docs/deployment.md names only commands, options, services and variables that exist."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import typer
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from docker_files import COMPOSE, DOCKER, ROOT, env_example  # noqa: E402

from orchestrator.cli.main import app  # noqa: E402

DOC = ROOT / "docs" / "deployment.md"


def _commands() -> list[list[str]]:
    """Every `wan-i2v ...` invocation in the page's code blocks and inline code."""
    text = DOC.read_text().replace("\\\n", " ")
    found = []
    for match in re.finditer(r"wan-i2v ((?:[a-z][\w-]*)(?: +(?:[^\s`|>)]+))*)", text):
        words = shlex.split(match.group(1).split("#")[0])
        found.append(words)
    return found


def test_every_wan_i2v_command_and_option_in_the_page_exists() -> None:
    root = typer.main.get_command(app)
    seen = 0
    for words in _commands():
        command = root
        rest = list(words)
        while hasattr(command, "commands") and rest and rest[0] in command.commands:
            command = command.commands[rest.pop(0)]
        if command is root:
            continue  # prose such as "wan-i2v on your own GPUs"
        seen += 1
        options = {o for p in command.params for o in p.opts}
        for word in rest:
            if word.startswith("--"):
                assert word.split("=")[0] in options, f"`wan-i2v {' '.join(words)}`: no option {word}"
    assert seen >= 8


def test_services_files_and_variables_named_in_the_page_exist() -> None:
    text = DOC.read_text()
    services = set(yaml.safe_load(COMPOSE.read_text())["services"])
    for name in re.findall(r"`((?:comfyui|worker)-gpu0|orchestrator|redis|postgres|migrate)`", text):
        assert name in services, name
    for path in re.findall(r"`(docker/[\w./-]+)`", text):
        assert (ROOT / path).exists(), path
    documented = set(env_example())
    for name in re.findall(r"`([A-Z][A-Z0-9_]{3,})(?:=[^`]*)?`", text):
        if name in {"GET", "TORCH_CUDA_ARCH_LIST", "MAX_JOBS"}:
            continue
        assert name in documented, f"{name} is not in .env.example"
    assert (DOCKER / "Dockerfile.sage2").exists()

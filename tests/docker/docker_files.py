"""Read the deployment files: Dockerfile instructions by stage, .env.example entries, compose variables."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (INSTRUCTION, arguments)

    def all(self, instruction: str) -> list[str]:
        return [args for ins, args in self.instructions if ins == instruction]


def dockerfile_stages(path: Path) -> list[Stage]:
    """Stages in order; continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    stages: list[Stage] = []
    for line in lines:
        instruction, _, args = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            match = re.match(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", args, re.IGNORECASE)
            assert match, line
            stages.append(Stage(match.group(1), match.group(2)))
        elif stages:
            stages[-1].instructions.append((instruction, args.strip()))
    return stages


@dataclass(frozen=True)
class EnvEntry:
    name: str
    value: str
    optional: bool  # written as "# NAME=value"
    doc: list[str]  # the comment lines right above it


_VAR_LINE = re.compile(r"^(#\s)?([A-Z][A-Z0-9_]*)=(.*)$")


def env_example() -> dict[str, EnvEntry]:
    entries: dict[str, EnvEntry] = {}
    comments: list[str] = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = _VAR_LINE.match(line)
        if match:
            name = match.group(2)
            assert name not in entries, f"{name} appears twice in .env.example"
            entries[name] = EnvEntry(name, match.group(3), bool(match.group(1)), comments)
            comments = []
        elif line.startswith("#"):
            comments = [*comments, line.lstrip("# ").strip()]
        else:
            comments = []
    return entries


def compose_variables(text: str) -> set[str]:
    """Every ${NAME...} the compose file interpolates (nested defaults included); $$ escapes skipped."""
    text = text.replace("$$", "")
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))

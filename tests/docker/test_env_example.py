""".env.example: every variable documented with a safe default, every service setting listed, no secret."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from docker_files import COMPOSE, ENV_EXAMPLE, compose_variables, env_example  # noqa: E402

from orchestrator.core.settings import Settings  # noqa: E402

SECRETS = ("JWT_SECRET", "POSTGRES_PASSWORD", "JUPYTER_TOKEN", "FLOWER_BASIC_AUTH", "HF_TOKEN")


def test_every_variable_is_documented_right_above_it() -> None:
    entries = env_example()
    assert len(entries) > 30
    for entry in entries.values():
        assert entry.doc and any(len(line) > 15 for line in entry.doc), f"{entry.name} has no description"


def test_every_service_setting_is_listed() -> None:
    assert set(Settings.model_fields) - set(env_example()) == set()


def test_compose_uses_only_listed_variables() -> None:
    assert compose_variables(COMPOSE.read_text()) <= set(env_example())


def test_secrets_are_empty() -> None:
    entries = env_example()
    for name in SECRETS:
        assert entries[name].value == "", f"{name} must not have a value in the example"
    assert not entries["JWT_SECRET"].optional and not entries["POSTGRES_PASSWORD"].optional


def test_the_example_as_is_keeps_the_services_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """Copied unchanged, .env.example changes no setting (so every value shown is the safe default)."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    from_example = Settings(_env_file=ENV_EXAMPLE)  # type: ignore[call-arg]
    built_in = Settings(_env_file=None)  # type: ignore[call-arg]
    assert from_example.model_dump() == built_in.model_dump()
    # and without a real JWT_SECRET the service refuses to start
    from orchestrator.core.errors import SettingsError

    with pytest.raises(SettingsError):
        from_example.signing_secret()


def test_commented_values_are_the_defaults_they_claim() -> None:
    """A "# NAME=value" line shows the built-in value; uncommenting it changes nothing."""
    entries = env_example()
    for name, entry in entries.items():
        if entry.optional and name in Settings.model_fields and entry.value:
            field = Settings.model_fields[name]
            assert str(field.default) == entry.value, name


def test_no_line_looks_like_a_real_secret() -> None:
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.startswith("#"):
            continue
        assert not re.search(r"=[A-Za-z0-9_\-]{32,}$", line), line

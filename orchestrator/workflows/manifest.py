"""A workflow's manifest: the parameters a user may set and where each one goes in the graph.

manifest.json:

    {"name": "i2v_480p", "version": 1, "title": "...", "description": "...",
     "parameters": [{"name": "steps", "type": "int", "default": 40, "min": 1, "max": 200,
                     "description": "...", "binds": [["10", "steps"]]}, ...]}

Types: string, int, float, bool, enum (with "choices"), image (an input-folder file name).
Optional keys: min, max, step (ints: the value must be min + a multiple of step),
model_kind (a string naming a model file in that models/ folder).

An int parameter named "seed" also takes -1, as in ComfyUI: "pick one at random". The
resolved value is the seed actually drawn (below 2**53, so JavaScript clients keep it exact).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from .errors import WorkflowFormatError, WorkflowParameterError

TYPES = ("string", "int", "float", "bool", "enum", "image")
RANDOM_SEED = -1
_SEED_LIMIT = 2**53  # exact in a JSON number read by JavaScript
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def step_rule(base: int, step: int) -> str:
    """The values a stepped int takes, in words: "a multiple of 16", or "1 plus a multiple of 4"."""
    return f"a multiple of {step}" if base % step == 0 else f"{base} plus a multiple of {step}"


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: Any
    description: str
    binds: tuple[tuple[str, str], ...]  # (node_id, input_name)
    min: float | None = None
    max: float | None = None
    step: int | None = None
    choices: tuple[Any, ...] | None = None
    model_kind: str | None = None

    def bounds_text(self) -> str:
        if self.is_seed:
            return f"{self.min}..{self.max}, or -1 for a random seed"
        if self.choices is not None:
            return "one of " + ", ".join(str(c) for c in self.choices)
        parts = []
        if self.min is not None and self.max is not None:
            parts.append(f"{self.min}..{self.max}")
        elif self.min is not None:
            parts.append(f">= {self.min}")
        elif self.max is not None:
            parts.append(f"<= {self.max}")
        if self.step and self.type == "int":
            parts.append(f"step {self.step}")
        return ", ".join(parts)

    def convert(self, value: Any) -> Any:
        """The value as this parameter's type, checked against its bounds (strings are parsed)."""
        converted = self._typed(value)
        if converted == RANDOM_SEED and self.is_seed:
            return random.SystemRandom().randint(int(self.min or 0), min(int(self.max or _SEED_LIMIT), _SEED_LIMIT - 1))
        self._check(converted)
        return converted

    @property
    def is_seed(self) -> bool:
        return self.name == "seed" and self.type == "int"

    def _fail(self, value: Any, why: str) -> WorkflowParameterError:
        allowed = self.bounds_text()
        suffix = f" (allowed: {allowed})" if allowed else ""
        return WorkflowParameterError(f"Parameter '{self.name}' {why}, got {value!r}{suffix}.")

    def _typed(self, value: Any) -> Any:
        if self.type == "int":
            if isinstance(value, bool):
                raise self._fail(value, "must be an integer")
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, int):
                return value
            if isinstance(value, str):
                try:
                    return int(value.strip())
                except ValueError:
                    pass
            raise self._fail(value, "must be an integer")
        if self.type == "float":
            if isinstance(value, bool):
                raise self._fail(value, "must be a number")
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise self._fail(value, "must be a number") from None
            if not math.isfinite(number):
                raise self._fail(value, "must be a finite number")
            return number
        if self.type == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                return value.strip().lower() in _TRUE
            raise self._fail(value, "must be true or false")
        if not isinstance(value, str):  # string, enum, image
            raise self._fail(value, "must be a string")
        return value

    def _check(self, value: Any) -> None:
        if self.choices is not None and value not in self.choices:
            raise self._fail(value, "is not one of the allowed values")
        if self.type == "image" and not value.strip():
            raise self._fail(value, "must name an image file")
        if self.type not in ("int", "float"):
            return
        if self.min is not None and value < self.min:
            raise self._fail(value, f"must be at least {self.min}")
        if self.max is not None and value > self.max:
            raise self._fail(value, f"must be at most {self.max}")
        if self.type == "int" and self.step and (value - int(self.min or 0)) % self.step:
            base = int(self.min or 0)
            below = value - (value - base) % self.step
            nearest = [n for n in (below, below + self.step) if self._within(n)]
            hint = f" (e.g. {' or '.join(str(n) for n in nearest)})" if nearest else ""
            raise self._fail(value, f"must be {step_rule(base, self.step)}{hint}")

    def _within(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


@dataclass(frozen=True)
class Manifest:
    name: str
    version: int
    title: str
    description: str
    parameters: tuple[Parameter, ...]

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]


def parse_manifest(data: Any) -> Manifest:
    """Build a Manifest from manifest.json's content; raises WorkflowFormatError when malformed."""
    if not isinstance(data, dict):
        raise WorkflowFormatError("manifest.json must hold a JSON object")
    try:
        params = tuple(_parse_parameter(p) for p in data["parameters"])
        manifest = Manifest(
            name=str(data["name"]),
            version=int(data["version"]),
            title=str(data.get("title", data["name"])),
            description=str(data.get("description", "")),
            parameters=params,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise WorkflowFormatError(f"manifest.json is malformed: {exc!r}") from exc
    names = manifest.names
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise WorkflowFormatError(f"manifest {manifest.name}: duplicate parameters {duplicates}")
    return manifest


def _parse_parameter(data: dict[str, Any]) -> Parameter:
    type_ = data["type"]
    if type_ not in TYPES:
        raise ValueError(f"parameter {data.get('name')!r}: type {type_!r} is not one of {TYPES}")
    choices = data.get("choices")
    if type_ == "enum" and not choices:
        raise ValueError(f"parameter {data['name']!r}: an enum needs choices")
    binds = tuple((str(node), str(name)) for node, name in data["binds"])
    if not binds:
        raise ValueError(f"parameter {data['name']!r} binds to nothing")
    return Parameter(
        name=str(data["name"]),
        type=type_,
        default=data["default"],
        description=str(data.get("description", "")),
        binds=binds,
        min=data.get("min"),
        max=data.get("max"),
        step=data.get("step"),
        choices=tuple(choices) if choices is not None else None,
        model_kind=data.get("model_kind"),
    )

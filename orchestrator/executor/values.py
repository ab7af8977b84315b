"""Converting and checking literal input values the way ComfyUI does.

ComfyUI converts INT/FLOAT/STRING/BOOLEAN literals (so "5" becomes 5), checks
`min`/`max`, and requires combo values to be one of the listed choices.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from .graph import InputSpec

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
MAX_LISTED_CHOICES = 20  # longer lists (e.g. every model file) are summarised


def unwrap(value: Any) -> Any:
    """Literal lists travel as {"__value__": [...]} because a bare list means a link."""
    if isinstance(value, dict) and "__value__" in value:
        return value["__value__"]
    return value


def convert(spec: InputSpec, value: Any) -> Any:
    """The value converted to the input's type; raises ValueError/TypeError when it can't be."""
    if spec.type == "INT":
        return int(value)
    if spec.type == "FLOAT":
        number = float(value)
        if math.isnan(number):
            raise ValueError("NaN is not a number the node can use")
        return apply_round(number, spec.options.get("round"))
    if spec.type == "STRING":
        return str(value)
    if spec.type == "BOOLEAN":
        return to_bool(value)
    return value


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"{value!r} is not a boolean (use true or false)")


def apply_round(value: float, step: Any) -> float:
    """Round to the input's `round` precision, as the editor does before sending."""
    if isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0 or math.isinf(value):
        return value
    rounded = round(value / step) * step
    places = max(0, -Decimal(str(step)).as_tuple().exponent)  # 0.01 -> 2 places, drops float noise
    return round(rounded, places)


def bounds_text(options: dict[str, Any]) -> str:
    low, high = options.get("min"), options.get("max")
    if low is not None and high is not None:
        return f"Use a value from {low} to {high}."
    if low is not None:
        return f"Use a value of at least {low}."
    if high is not None:
        return f"Use a value of at most {high}."
    return ""


def choices_text(choices: list[Any] | tuple[Any, ...]) -> str:
    if not any(c != "" for c in choices):  # loaders list [""] when no model file is installed
        return "(none available)"
    if len(choices) > MAX_LISTED_CHOICES:
        sample = ", ".join(repr(c) for c in choices[:5])
        return f"(list of length {len(choices)}, e.g. {sample}, ...)"
    return "[" + ", ".join(repr(c) for c in choices) + "]"


def input_config(spec: InputSpec) -> list[Any] | None:
    """ComfyUI's `input_config` ([type, options]); omitted for very long combo lists."""
    if spec.is_combo and len(spec.type) > MAX_LISTED_CHOICES:
        return None
    type_ = list(spec.type) if spec.is_combo else spec.type
    return [type_, spec.options]


def type_matches(received: Any, expected: Any) -> bool:
    """Linked output type vs input type. "*" matches anything; "A,B" means either."""
    if isinstance(expected, (list, tuple)):  # a combo fed by a link
        return received in ("*", "COMBO") or isinstance(received, (list, tuple))
    if not isinstance(received, str) or not isinstance(expected, str):
        return received == expected
    if received == "*" or expected == "*":
        return True
    got = {t.strip() for t in received.split(",")}
    want = {t.strip() for t in expected.split(",")}
    return got <= want

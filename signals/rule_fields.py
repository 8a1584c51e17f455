"""Field validators for rule mappings: each returns the converted value or raises ValueError."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from signals.names import split_expression
from signals.windows import parse_window

Validator = Callable[[Any], Any]
Spec = dict[str, Validator]

_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_NAME = re.compile(r"^[A-Za-z0-9^=._:-]{1,32}$")
_LARGEST = 10**300  # integers beyond this do not fit a float (and mean nothing here)


class RuleError(ValueError):
    """A rule mapping is invalid; `problems` holds (field, message) for every problem."""

    def __init__(self, problems: list[tuple[str, str]], rule_id: object = None) -> None:
        self.problems = problems
        self.rule_id = rule_id if isinstance(rule_id, str) else None
        prefix = f"rule {self.rule_id}: " if self.rule_id else "rule: "
        super().__init__("; ".join(f"{prefix}{name}: {message}" for name, message in problems))


def _number(low: float | None = None, high: float | None = None) -> Validator:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number, got {value!r}")
        if isinstance(value, int) and abs(value) > _LARGEST:
            raise ValueError("must be a finite number, got an integer too large for one")
        if not math.isfinite(value):  # TOML has inf and nan, and 1e309 reads as inf
            raise ValueError(f"must be a finite number, got {value!r}")
        if low is not None and value < low:
            raise ValueError(f"must be at least {low:g}, got {value!r}")
        if high is not None and value > high:
            raise ValueError(f"must be at most {high:g}, got {value!r}")
        return float(value)

    return check


def _integer(low: int = 0, high: int = 100_000) -> Validator:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be a whole number, got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}, got {value}")
        return value

    return check


def _choice(options: tuple[str, ...]) -> Validator:
    def check(value: Any) -> str:
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}, got {value!r}")
        return str(value)

    return check


def _text(pattern: re.Pattern[str] | None = None, what: str = "text") -> Validator:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"must be non-empty {what}, got {value!r}")
        if pattern is not None and not pattern.match(value.strip()):
            raise ValueError(f"{value!r} is not a valid {what}")
        return value.strip()

    return check


def _expression(value: Any) -> str:
    text = _text(what="text")(value)
    for leaf in split_expression(text):
        _text(_NAME, "symbol or series id (use spaces around / and -)")(leaf)
    return " ".join(text.split())


def _window(value: Any) -> str:
    return parse_window(_text(what="window")(value)).text


def _day(value: Any) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"must be a date YYYY-MM-DD, got {value!r}")


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {value!r}")
    return value


def _tags(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(t, str) for t in value):
        raise ValueError(f"must be a list of strings, got {value!r}")
    return tuple(value)


def _destinations(value: Any) -> tuple[str, ...]:
    # Only the shape here: which platforms and ids exist is bot/'s business (bot.rules.routing).
    if not isinstance(value, list | tuple) or not all(isinstance(d, str) for d in value):
        raise ValueError(f"must be a list of '<platform>:<channel id>' strings, got {value!r}")
    return tuple(dict.fromkeys(d.strip() for d in value))


def _optional_integer(low: int, high: int) -> Validator:
    inner = _integer(low, high)
    return lambda value: None if value is None else inner(value)


class Validators:
    """Validator factories used by the rule specs (`Validators.symbol()` ...)."""

    number = staticmethod(_number)
    integer = staticmethod(_integer)
    choice = staticmethod(_choice)

    @staticmethod
    def symbol() -> Validator:
        """A symbol or series id (IWM, ^RUT, DFEDTARU, pe:IWB)."""
        return _text(_NAME, "symbol or series id")

    @staticmethod
    def expression() -> Validator:
        """A name, or `A / B`, `A - B` of names."""
        return _expression

    @staticmethod
    def window() -> Validator:
        """A return window (ytd, 3m, 42d, since:YYYY-MM-DD ...)."""
        return _window

    @staticmethod
    def day() -> Validator:
        """A date (TOML date or YYYY-MM-DD text)."""
        return _day


def common_spec() -> Spec:
    """Validators of the options every rule type shares."""
    return {
        "id": _text(_ID, "rule id (lower case letters, digits, - _ .)"),
        "type": _text(),
        "name": lambda value: "" if value == "" else _text(what="name")(value),
        "description": lambda value: "" if value == "" else _text(what="text")(value),
        "enabled": _boolean,
        "severity": _choice(("info", "warning", "critical")),
        "tags": _tags,
        "confirm": _integer(1, 1000),
        "hysteresis": _number(0),
        "cooldown": _integer(0, 100_000),
        "trigger": _choice(("episode", "once", "once_per_bar")),
        "emit_reversed": _boolean,
        "intraday": _boolean,
        "renotify_minutes": _optional_integer(1, 100_000),
        "destinations": _destinations,
    }


def check_fields(
    mapping: Mapping[str, Any], spec: Spec, required: set[str]
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Convert every known field, collecting a problem per unknown, missing or bad field."""
    values: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for name, raw in mapping.items():
        if name not in spec:
            problems.append((name, f"unknown field; allowed: {', '.join(sorted(spec))}"))
            continue
        try:
            values[name] = spec[name](raw)
        except ValueError as error:
            problems.append((name, str(error)))
    problems.extend((name, "required") for name in sorted(required - set(mapping)))
    values.pop("type", None)
    return values, problems

"""Rule definitions: one frozen dataclass per rule type, and `parse_rule` to validate a mapping.

Shared options (every type): `name`, `description`, `enabled`, `severity`, `tags`,
`confirm` (bars the condition must hold), `hysteresis` (band, in the rule's measure unit,
the measure must cross back beyond before the rule re-arms), `cooldown` (bars after a firing
before the next), `trigger` (episode | once | once_per_bar), `emit_reversed`, `intraday`
(may fire on provisional bars), `renotify_minutes` and `destinations` (both stored for the
delivery layer; `destinations` are `<platform>:<channel id>` texts, checked per platform in bot/).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from datetime import date
from typing import Any, ClassVar, Literal

from signals.names import split_expression
from signals.rule_fields import RuleError, Spec, Validators, check_fields, common_spec
from signals.windows import Window, parse_window

Direction3 = Literal["up", "down", "either"]
# Sessions a ytd/qtd/mtd window must span before a pair rule may fire on it (one week).
DEFAULT_MIN_SESSIONS = 5
# The fewest sessions a period can have, so `min_sessions` never makes a rule unable to fire.
_PERIOD_SESSIONS = {"mtd": 19, "qtd": 60, "ytd": 250}


@dataclass(frozen=True, kw_only=True)
class Rule:
    """Options every rule type shares; subclasses add their own parameters."""

    type: ClassVar[str] = ""
    unit: ClassVar[str] = ""
    id: str
    name: str = ""
    description: str = ""
    enabled: bool = True
    severity: Literal["info", "warning", "critical"] = "info"
    tags: tuple[str, ...] = ()
    confirm: int = 1
    hysteresis: float = 0.0
    cooldown: int = 0
    trigger: Literal["episode", "once", "once_per_bar"] = "episode"
    emit_reversed: bool = True
    intraday: bool = False
    renotify_minutes: int | None = None
    destinations: tuple[str, ...] = ()  # where its alerts go; empty: routes or the defaults

    @property
    def title(self) -> str:
        """The rule's display name (its id when it has none)."""
        return self.name or self.id

    def legs(self) -> tuple[str, ...]:
        """The symbols and series ids the rule reads."""
        raise NotImplementedError

    def fingerprint(self) -> str:
        """A digest of what decides the rule's events (not its name, text or delivery options).

        Kept on the rule once computed (every check keys 10,000 rules on it; a frozen rule's
        fields never change); the parse cache stores it with the rule.
        """
        kept = self.__dict__.get("_fingerprint")
        if kept is None:
            kept = self._digest()
            object.__setattr__(self, "_fingerprint", kept)
        return kept

    def _digest(self) -> str:
        cosmetic = {
            "name", "description", "severity", "tags", "enabled", "renotify_minutes",
            "destinations", "chart_from",
        }  # fmt: skip
        fields_ = {k: v for k, v in self.to_mapping().items() if k not in cosmetic}
        text = json.dumps(fields_, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_mapping(self) -> dict[str, Any]:
        """The rule as a plain mapping, unset options left out (the inverse of `parse_rule`)."""
        data: dict[str, Any] = {"type": self.type}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is not None:  # None means "not set" (TOML has no null)
                data[item.name] = list(value) if isinstance(value, tuple) else value
        return data


@dataclass(frozen=True, kw_only=True)
class PairRule(Rule):
    """A rule comparing A's return with B's over a window (crossover, spread threshold)."""

    a: str
    b: str
    window: str = "ytd"
    basis: Literal["total", "price"] = "total"
    # A ytd/qtd/mtd return over its period's first sessions is noise: the rule waits until the
    # window spans this many sessions (ignored by other windows).
    min_sessions: int = DEFAULT_MIN_SESSIONS

    def legs(self) -> tuple[str, ...]:
        """The two symbols compared."""
        return (self.a, self.b)

    @property
    def parsed_window(self) -> Window:
        """The window, parsed."""
        return parse_window(self.window)


@dataclass(frozen=True, kw_only=True)
class RelativeCrossover(PairRule):
    """A's return over `window` crosses B's (plus `level` pp): up, down or either."""

    type: ClassVar[str] = "relative_crossover"
    unit: ClassVar[str] = "pp"
    direction: Direction3 = "up"
    level: float = 0.0
    hysteresis: float = 1.0


@dataclass(frozen=True, kw_only=True)
class NewHigh(Rule):
    """A symbol closes (or trades, basis high) above its all-time or N-session high."""

    type: ClassVar[str] = "new_high"
    unit: ClassVar[str] = "%"
    symbol: str
    lookback: int | None = None  # sessions; None = all-time
    basis: Literal["close", "high", "adj_close"] = "close"
    min_history: int = 252
    hysteresis: float = 2.0  # % below the record before the rule re-arms
    emit_reversed: bool = False

    def legs(self) -> tuple[str, ...]:
        """The symbol watched."""
        return (self.symbol,)


@dataclass(frozen=True, kw_only=True)
class ExtremeSince(Rule):
    """A series reaches its highest/lowest value since a date or in at least N years."""

    type: ClassVar[str] = "extreme_since"
    unit: ClassVar[str] = ""
    series: str
    extreme: Literal["high", "low"] = "high"
    since: date | None = None
    years: float | None = None
    basis: Literal["total", "price"] = "total"
    hysteresis: float = 2.0  # % back from the extreme before the rule re-arms
    emit_reversed: bool = False
    chart_from: date | None = None  # the alert's chart starts here (default: `since`)

    def legs(self) -> tuple[str, ...]:
        """The leaves of the series expression."""
        return split_expression(self.series)


@dataclass(frozen=True, kw_only=True)
class SpreadThreshold(PairRule):
    """A beats B (direction up) or trails B (down) by at least `threshold_bps` over a window."""

    type: ClassVar[str] = "spread_threshold"
    unit: ClassVar[str] = "bps"
    window: str = "42d"
    threshold_bps: float
    direction: Literal["up", "down"] = "up"
    hysteresis: float = 100.0


@dataclass(frozen=True, kw_only=True)
class RallyFromLow(Rule):
    """A symbol is up at least `threshold_pct` % from its lowest close of the last N sessions."""

    type: ClassVar[str] = "rally_from_low"
    unit: ClassVar[str] = "%"
    symbol: str
    lookback: int = 252
    threshold_pct: float
    basis: Literal["total", "price"] = "total"
    hysteresis: float = 10.0

    def legs(self) -> tuple[str, ...]:
        """The symbol watched."""
        return (self.symbol,)


@dataclass(frozen=True, kw_only=True)
class RateChange(Rule):
    """A stored rate steps up (hike), down (cut) or either by at least `min_change_bps`."""

    type: ClassVar[str] = "rate_change"
    unit: ClassVar[str] = "bps"
    series: str
    direction: Direction3 = "either"
    min_change_bps: float = 1.0
    emit_reversed: bool = False

    def legs(self) -> tuple[str, ...]:
        """The series watched."""
        return (self.series,)


@dataclass(frozen=True, kw_only=True)
class Curve(Rule):
    """`long - short` (yields in %) crosses `level_bps`, or changes by `change_bps` over N bars."""

    type: ClassVar[str] = "curve"
    unit: ClassVar[str] = "bps"
    long: str
    short: str
    mode: Literal["level", "change"] = "level"
    level_bps: float = 0.0
    change_bps: float | None = None
    sessions: int | None = None
    direction: Direction3 = "up"
    hysteresis: float = 10.0

    def legs(self) -> tuple[str, ...]:
        """The two yields."""
        return (self.long, self.short)


RULE_TYPES: dict[str, type[Rule]] = {
    cls.type: cls
    for cls in (
        RelativeCrossover,
        NewHigh,
        ExtremeSince,
        SpreadThreshold,
        RallyFromLow,
        RateChange,
        Curve,
    )
}

_DIR3 = ("up", "down", "either")
_TOTAL = ("total", "price")
SPECS: dict[str, Spec] = {
    "relative_crossover": {
        "a": Validators.symbol(), "b": Validators.symbol(), "window": Validators.window(),
        "basis": Validators.choice(_TOTAL), "direction": Validators.choice(_DIR3),
        "level": Validators.number(), "min_sessions": Validators.integer(1, 250),
    },
    "new_high": {
        "symbol": Validators.symbol(), "lookback": Validators.integer(2),
        "min_history": Validators.integer(1),
        "basis": Validators.choice(("close", "high", "adj_close")),
    },
    "extreme_since": {
        "series": Validators.expression(), "extreme": Validators.choice(("high", "low")),
        "since": Validators.day(), "years": Validators.number(0.1, 200),
        "basis": Validators.choice(_TOTAL), "chart_from": Validators.day(),
    },
    "spread_threshold": {
        "a": Validators.symbol(), "b": Validators.symbol(), "window": Validators.window(),
        "basis": Validators.choice(_TOTAL), "threshold_bps": Validators.number(0.0001),
        "direction": Validators.choice(("up", "down")), "min_sessions": Validators.integer(1, 250),
    },
    "rally_from_low": {
        "symbol": Validators.symbol(), "lookback": Validators.integer(2),
        "threshold_pct": Validators.number(0.0001), "basis": Validators.choice(_TOTAL),
    },
    "rate_change": {
        "series": Validators.symbol(), "direction": Validators.choice(_DIR3),
        "min_change_bps": Validators.number(0.0001),
    },
    "curve": {
        "long": Validators.symbol(), "short": Validators.symbol(),
        "mode": Validators.choice(("level", "change")), "level_bps": Validators.number(),
        "change_bps": Validators.number(0.0001), "sessions": Validators.integer(1),
        "direction": Validators.choice(_DIR3),
    },
}  # fmt: skip


def parse_rule(mapping: Mapping[str, Any]) -> Rule:
    """Validate a mapping (from TOML) into a Rule; RuleError lists every problem by field."""
    kind = mapping.get("type")
    if not isinstance(kind, str) or kind not in RULE_TYPES:
        known = ", ".join(RULE_TYPES)
        problem = "missing" if kind is None else f"unknown rule type {kind!r}"
        raise RuleError([("type", f"{problem}; use one of {known}")], rule_id=mapping.get("id"))
    cls = RULE_TYPES[kind]
    spec = {**common_spec(), **SPECS[kind]}
    required = {f.name for f in fields(cls) if _is_required(f)}
    values, problems = check_fields(mapping, spec, required)
    problems.extend(_cross_checks(kind, {**_defaults(cls), **values}))
    if problems:
        raise RuleError(problems, rule_id=mapping.get("id"))
    return cls(**values)


def _is_required(item: Any) -> bool:
    return item.default is MISSING and item.default_factory is MISSING


def _defaults(cls: type[Rule]) -> dict[str, Any]:
    return {f.name: f.default for f in fields(cls) if not _is_required(f)}


def _cross_checks(kind: str, values: dict[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if "a" in values and values.get("a") == values.get("b"):
        problems.append(("b", "must differ from a"))
    problems.extend(_min_sessions_check(values))
    if kind == "extreme_since" and (values.get("since") is None) == (values.get("years") is None):
        problems.append(("since", "give exactly one of since (a date) or years"))
    if kind == "curve" and values.get("mode") == "change":
        for name in ("change_bps", "sessions"):
            if values.get(name) is None:
                problems.append((name, "required when mode = 'change'"))
    return problems


def _min_sessions_check(values: dict[str, Any]) -> list[tuple[str, str]]:
    """A ytd/qtd/mtd window that can never span `min_sessions` would silence the rule for good."""
    window, wanted = values.get("window"), values.get("min_sessions")
    most = _PERIOD_SESSIONS.get(window) if isinstance(window, str) else None
    if most is None or not isinstance(wanted, int) or wanted <= most:
        return []
    return [("min_sessions", f"must be at most {most} for window {window}, got {wanted}")]

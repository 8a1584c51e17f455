"""A realistic rules file of N generated rules, for the many-rules benchmark and its tests.

Every rule type of `signals.rules` appears, over the symbols of the shared data and the FRED
series, with windows, thresholds, lookbacks and anti-flap options varied deterministically
(one seed, same file), ids unique. The text is written as a desk would write it: one
`[[rules]]` table per rule, a name, a description, tags, a comment now and then.
"""

from __future__ import annotations

import random
from collections.abc import Callable

EQUITIES = ("IWM", "IWC", "IJR", "IWB", "OEF", "SPY", "QQQ", "RSP", "^RUT", "^GSPC")
YIELDS = ("^IRX", "^TNX")
RATES = ("DFF", "DGS3MO", "DGS2", "DGS10")
TARGETS = ("DFEDTARU", "DFEDTARL")
WINDOWS = (
    "ytd",
    "qtd",
    "mtd",
    "1m",
    "3m",
    "6m",
    "1y",
    "21d",
    "42d",
    "63d",
    "126d",
    "since:2020-01-01",
)

Fields = dict[str, object]


def generate_rules(count: int, seed: int = 14) -> str:
    """The TOML text of `count` rules, cycling through every rule type."""
    rng = random.Random(seed)
    makers = list(_MAKERS)
    tables = []
    for number in range(count):
        kind, make = makers[number % len(makers)]
        fields = {"id": f"gen-{number:05d}-{kind.replace('_', '-')}", "type": kind}
        fields.update(make(rng))
        fields.update(_common(rng, number))
        tables.append(_table(fields, comment=number % 10 == 0))
    return "# Generated rules (tests/rule_mix.py)\n\n" + "\n".join(tables)


def _pair(rng: random.Random) -> Fields:
    a, b = rng.sample(EQUITIES, 2)
    return {
        "name": f"{a} vs {b}",
        "description": f"{a} against {b}, total return over the window.",
        "a": a,
        "b": b,
        "window": rng.choice(WINDOWS),
        "direction": rng.choice(("up", "down")),
    }


def _crossover(rng: random.Random) -> Fields:
    fields = _pair(rng)
    fields["level"] = float(rng.choice((-2, -1, 0, 0, 1, 2, 5)))
    if rng.random() < 0.2:
        fields["direction"] = "either"
    return fields


def _spread(rng: random.Random) -> Fields:
    return {**_pair(rng), "threshold_bps": float(rng.choice((100, 200, 300, 400, 600, 900)))}


def _new_high(rng: random.Random) -> Fields:
    symbol = rng.choice(EQUITIES)
    fields: Fields = {"name": f"{symbol} new high", "symbol": symbol}
    fields["basis"] = rng.choice(("close", "adj_close"))
    if rng.random() < 0.6:
        fields["lookback"] = rng.choice((20, 63, 126, 252, 504))
    return fields


def _extreme(rng: random.Random) -> Fields:
    a, b = rng.sample(EQUITIES, 2)
    series = rng.choice((a, f"{a} / {b}"))
    fields: Fields = {"name": f"{series} extreme", "series": series}
    fields["extreme"] = rng.choice(("high", "low"))
    if rng.random() < 0.5:
        fields["years"] = float(rng.choice((1, 2, 5, 10)))
    else:
        fields["since"] = rng.choice(("2008-01-02", "2015-06-01", "2020-03-02"))
    return fields


def _rally(rng: random.Random) -> Fields:
    symbol = rng.choice(EQUITIES)
    return {
        "name": f"{symbol} rally from its low",
        "symbol": symbol,
        "lookback": rng.choice((63, 126, 252)),
        "threshold_pct": float(rng.choice((10, 15, 20, 30))),
    }


def _rate_change(rng: random.Random) -> Fields:
    series = rng.choice((*TARGETS, *RATES))
    # The Fed's target moves in steps, so any step is news; a market rate moves every day,
    # and a desk watches it for a large one-day move.
    smallest = (1, 25) if series in TARGETS else (25, 50)
    return {
        "name": f"{series} moves",
        "series": series,
        "direction": rng.choice(("up", "down", "either")),
        "min_change_bps": float(rng.choice(smallest)),
    }


def _curve(rng: random.Random) -> Fields:
    long, short = rng.choice((("DGS10", "DGS2"), ("DGS10", "DGS3MO"), ("^TNX", "^IRX")))
    fields: Fields = {"name": f"{long} - {short} curve", "long": long, "short": short}
    fields["direction"] = rng.choice(("up", "down"))
    if rng.random() < 0.5:
        fields["level_bps"] = float(rng.choice((-50, 0, 50, 100)))
    else:
        fields.update(mode="change", change_bps=float(rng.choice((25, 50))), sessions=21)
    return fields


_MAKERS: tuple[tuple[str, Callable[[random.Random], Fields]], ...] = (
    ("relative_crossover", _crossover),
    ("spread_threshold", _spread),
    ("new_high", _new_high),
    ("extreme_since", _extreme),
    ("rally_from_low", _rally),
    ("rate_change", _rate_change),
    ("curve", _curve),
)


def _common(rng: random.Random, number: int) -> Fields:
    fields: Fields = {"tags": rng.sample(["size", "rates", "desk-a", "desk-b", "macro"], 2)}
    if rng.random() < 0.3:
        fields["confirm"] = rng.choice((2, 3))
    if rng.random() < 0.2:
        fields["cooldown"] = rng.choice((5, 10))
    if number % 7 == 3:
        fields["severity"] = "warning"
    return fields


def _table(fields: Fields, *, comment: bool) -> str:
    lines = ["# a desk's note about the next rule"] if comment else []
    lines.append("[[rules]]")
    lines.extend(f"{key} = {_toml(value)}" for key, value in fields.items())
    return "\n".join(lines) + "\n"


def _toml(value: object) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return repr(value)

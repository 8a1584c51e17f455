"""The floor: an independent, vectorised pandas evaluation of the same rules file.

Usage: python bench/floor.py RULES.toml [--data DIR]   (prints its CPU seconds and a checksum)

What any evaluation of the rules must at least do, written without the engine (no `signals`,
`storage` or `bot` import): read the price CSVs and the FRED file with pandas, compute each
distinct measure once over every date (window returns and their spread, running and rolling
highs and lows, one-day changes, curve levels and changes), then compare all the thresholds
of the rules sharing that measure at once, as a matrix. No hysteresis, cooldown, confirm,
hole checks or state: a floor to measure the product against, not a second engine. The other
benches run this script in a fresh process in the same run and print their ratio to it
(`floor_cpu`), CPU seconds of whole processes, so a busy machine changes both alike.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tomllib
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
Rule = dict[str, object]


def read_data(data: Path) -> dict[str, pd.Series]:
    """Every price file's `Adj Close` and `Close` (`SYM` and `SYM:close`) and every FRED series."""
    legs: dict[str, pd.Series] = {}
    for path in sorted((data / "prices").glob("*.csv")):
        frame = pd.read_csv(path, parse_dates=["Date"], index_col="Date")
        legs[path.stem] = frame["Adj Close"].dropna()
        legs[f"{path.stem}:close"] = frame["Close"].dropna()
    macro = pd.read_csv(data / "macro" / "fred_rates_daily.csv", parse_dates=["date"])
    for name in macro.columns[1:]:
        legs[name] = macro.set_index("date")[name].dropna()
    return legs


def leg(legs: dict[str, pd.Series], name: str, close: bool = False) -> pd.Series:
    """A symbol, a series, or `A / B` / `A - B` of two on their common dates."""
    for op in (" / ", " - "):
        if op in name:
            a, b = (leg(legs, part.strip(), close) for part in name.split(op))
            a, b = a.align(b, join="inner")
            return a / b if op == " / " else a - b
    return legs.get(f"{name}:close" if close else name, legs[name])


def window_return(values: pd.Series, window: str) -> pd.Series:
    """The total return over a window at every date (anchor: the close before the window)."""
    index = values.index
    if window in ("ytd", "qtd", "mtd"):
        period = pd.Series(index.to_period({"ytd": "Y", "qtd": "Q", "mtd": "M"}[window]))
        starts = (period != period.shift(1)).to_numpy()
        anchor = values.shift(1).where(starts).ffill()
        return values / anchor - 1.0
    if window.endswith("d"):
        return values / values.shift(int(window[:-1])) - 1.0
    if window.startswith("since:"):
        anchor = values.asof(pd.Timestamp(window[6:]))
        return (values / anchor - 1.0).where(index >= pd.Timestamp(window[6:]))
    months = {"1m": 1, "3m": 3, "6m": 6, "1y": 12}[window]
    targets = index - pd.DateOffset(months=months)
    positions = np.maximum(index.searchsorted(targets, side="right") - 1, 0)
    return pd.Series(values.to_numpy() / values.to_numpy()[positions] - 1.0, index=index)


Measure = tuple[tuple[object, ...], Callable[[], pd.Series]]


def measure_of(rule: Rule, legs: dict[str, pd.Series]) -> Measure:
    """The key of the measure a rule compares with its threshold, and how to compute it."""
    return _MEASURES[str(rule["type"])](rule, legs)


def _spread(rule: Rule, legs: dict[str, pd.Series]) -> Measure:
    a, b, window = str(rule["a"]), str(rule["b"]), str(rule["window"])
    return ("spread", a, b, window), lambda: (
        window_return(legs[a], window) - window_return(legs[b], window)
    ).dropna()


def _high(rule: Rule, legs: dict[str, pd.Series]) -> Measure:
    symbol, look, close = str(rule["symbol"]), rule.get("lookback"), rule.get("basis") == "close"

    def high() -> pd.Series:
        before = leg(legs, symbol, close).shift(1)
        prior = before.cummax() if look is None else before.rolling(int(str(look))).max()
        return leg(legs, symbol, close) / prior - 1.0

    return ("high", symbol, look, close), high


def _extreme(rule: Rule, legs: dict[str, pd.Series]) -> Measure:
    series, years, since, high = (rule["series"], rule.get("years"), rule.get("since"),
                                  rule["extreme"] == "high")  # fmt: skip

    def extreme() -> pd.Series:
        values = leg(legs, str(series))
        if years is not None:
            span = pd.Timedelta(days=round(float(str(years)) * 365.25))
            prior = values.rolling(span, closed="left")
            return values / (prior.max() if high else prior.min()) - 1.0
        masked = values.where(values.index >= pd.Timestamp(str(since))).shift(1)
        return values / (masked.cummax() if high else masked.cummin()) - 1.0

    return ("extreme", series, years, since, high), extreme


def _rally(rule: Rule, legs: dict[str, pd.Series]) -> Measure:
    symbol, look = str(rule["symbol"]), int(str(rule["lookback"]))
    return ("rally", symbol, look), lambda: legs[symbol] / legs[symbol].rolling(look).min() - 1.0


def _change(rule: Rule, legs: dict[str, pd.Series]) -> Measure:
    series = str(rule["series"])
    return ("change", series), lambda: legs[series].diff() * 100.0


def _curve(rule: Rule, legs: dict[str, pd.Series]) -> Measure:
    long, short, sessions = str(rule["long"]), str(rule["short"]), rule.get("sessions")

    def curve() -> pd.Series:
        level = leg(legs, f"{long} - {short}") * 100.0
        return level if sessions is None else level - level.shift(int(str(sessions)))

    return ("curve", long, short, sessions), curve


_MEASURES: dict[str, Callable[[Rule, dict[str, pd.Series]], Measure]] = {
    "relative_crossover": _spread,
    "spread_threshold": _spread,
    "new_high": _high,
    "extreme_since": _extreme,
    "rally_from_low": _rally,
    "rate_change": _change,
    "curve": _curve,
}
_THRESHOLDS = ("level", "threshold_bps", "threshold_pct", "min_change_bps", "level_bps",
               "change_bps")  # fmt: skip


def threshold_of(rule: Rule) -> float:
    """The number the rule's measure is compared with (the sign is folded in by `evaluate`)."""
    for name in _THRESHOLDS:
        if name in rule:
            return float(str(rule[name]))
    return 0.0


def evaluate(rules: list[Rule], legs: dict[str, pd.Series]) -> int:
    """Per distinct measure, every sharing rule's threshold compared on every date at once."""
    groups: dict[tuple[object, ...], list[Rule]] = defaultdict(list)
    makers: dict[tuple[object, ...], Callable[[], pd.Series]] = {}
    for rule in rules:
        key, make = measure_of(rule, legs)
        groups[key].append(rule)
        makers[key] = make
    total = 0
    for key, members in groups.items():
        values = makers[key]().to_numpy(dtype=np.float64)
        thresholds = np.array([threshold_of(rule) for rule in members])
        signs = np.array([-1.0 if rule.get("direction") == "down" else 1.0 for rule in members])
        with np.errstate(invalid="ignore"):
            holds = values[:, None] * signs[None, :] > thresholds[None, :] * signs[None, :]
        crossings = holds[1:] & ~holds[:-1]  # the days each rule's condition starts to hold
        total += int(crossings.sum()) + int(holds[-1:].sum())
    return total


def floor_cpu(rules_file: Path, data: Path = DEFAULT) -> float:
    """CPU seconds of this script, run in a fresh process on `rules_file`."""
    before = _children_cpu()
    command = [sys.executable, __file__, str(rules_file), "--data", str(data)]
    subprocess.run(command, check=True, capture_output=True)
    return _children_cpu() - before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    args = sys.argv[1:]
    data = Path(args[args.index("--data") + 1]) if "--data" in args else DEFAULT
    rules = tomllib.loads(Path(args[0]).read_text(encoding="utf-8"))["rules"]
    legs = read_data(data)
    checksum = evaluate(rules, legs)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"{len(rules)} rules, {checksum} crossings, cpu {usage.ru_utime + usage.ru_stime:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

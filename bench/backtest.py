"""Backtest every default rule over the full shared history; compare with pandas' CSV load time.

Run from the project root: `python bench/backtest.py [DATA_DIR]` (default ../shared/data).
Target: backtesting all default rules takes at most 3x the time pandas needs merely to
read the same CSV files (`pd.read_csv`), i.e. the engine costs about as much as loading.
The backtest runs as the service does, with the NYSE sessions (hole checks); it is also
timed without them, to show what the checks cost (goal: at most 10 % more).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd

from bot.config import load_settings
from bot.rules.files import load_rules, rule_series, rule_symbols
from bot.service.evaluation import nyse_sessions
from signals.evaluate import backtest_rule
from signals.legs import DataError
from signals.models import PRICE_COLUMNS, MarketData
from signals.rules import Rule

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
REPEATS = 7


def price_files(data: Path, symbols: list[str]) -> list[Path]:
    """The price CSVs of the symbols that exist in the shared data."""
    return [
        data / "prices" / f"{s}.csv" for s in symbols if (data / "prices" / f"{s}.csv").exists()
    ]


def read_all(files: list[Path], macro: Path) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Plain pd.read_csv of every file: the baseline."""
    prices = {
        path.stem: pd.read_csv(path, parse_dates=["Date"], index_col="Date") for path in files
    }
    return prices, pd.read_csv(macro, parse_dates=["date"], index_col="date")


def to_market(prices: dict[str, pd.DataFrame], macro: pd.DataFrame) -> MarketData:
    """The frames in the engine's shape (columns renamed, all bars final)."""
    frames = {}
    for symbol, raw in prices.items():
        frame = raw.rename(columns=lambda c: c.lower().replace(" ", "_"))
        frame["final"] = True
        frames[symbol] = frame[list(PRICE_COLUMNS)]
    series = {name: macro[name].dropna().rename(name) for name in macro.columns}
    return MarketData(prices=frames, series=series, sessions=nyse_sessions(date.today()))


def backtest_all(rules: list[Rule], market: MarketData) -> dict[str, int]:
    """Events per rule (rules without data count as -1)."""
    counts = {}
    for rule in rules:
        try:
            counts[rule.id] = len(backtest_rule(rule, market))
        except DataError:
            counts[rule.id] = -1
    return counts


def best_of(action: Callable[[], object]) -> tuple[float, float]:
    """Best and median wall time of REPEATS runs, in seconds."""
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times)


def _timing(label: str, best: float, median: float) -> str:
    return f"{label:<26} best {best * 1000:7.1f} ms  median {median * 1000:7.1f} ms"


def main() -> None:
    """Print load time, backtest time and their ratio."""
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else DATA
    rules = load_rules(load_settings(None))
    files = price_files(data, rule_symbols(rules))
    macro = data / "macro" / "fred_rates_daily.csv"
    market = to_market(*read_all(files, macro))
    counts = backtest_all(rules, market)  # warm-up, and the event counts to show
    load_best, load_median = best_of(lambda: read_all(files, macro))
    run_best, run_median = best_of(lambda: backtest_all(rules, market))
    unchecked = replace(market, sessions=None)
    bare_best, bare_median = best_of(lambda: backtest_all(rules, unchecked))
    rows = sum(len(frame) for frame in market.prices.values()) + len(macro.read_text().splitlines())
    print(f"data: {len(files)} price files + {macro.name} ({rows:,} rows)")
    print(f"series: {', '.join(rule_series(rules))}")
    for rule_id, count in counts.items():
        print(f"  {rule_id:<34} {'no data' if count < 0 else f'{count} events'}")
    print(_timing("pandas read_csv (load)", load_best, load_median))
    print(_timing(f"backtest all {len(rules)} rules", run_best, run_median))
    print(_timing("  without hole checks", bare_best, bare_median))
    extra = (run_median / bare_median - 1) * 100
    print(f"hole checks add {extra:+.1f} % (goal <= 10 %): {'OK' if extra <= 10 else 'MISSED'}")
    ratio = run_median / load_median
    print(f"ratio backtest / load: {ratio:.2f}x (target <= 3x): {'OK' if ratio <= 3 else 'MISSED'}")


if __name__ == "__main__":
    main()

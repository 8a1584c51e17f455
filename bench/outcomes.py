"""Track records of the default rules on the shared history: time and the figures (issue 23).

Run from the project root: `python bench/outcomes.py [DATA_DIR]` (default ../shared/data).
Target: for the 9 default rules, the whole computation (each rule's backtest since the start
of its history and its track record over 1M/3M/6M with the base rate) under 1 s on the 2-core
machine, from market data already loaded (as a check or backtest has it). A fresh
`MarketData` each repeat, so nothing computed by an earlier repeat is reused; the cached
lookup (same data version) is timed apart.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
from backtest import DATA, best_of, price_files, read_all, to_market

from bot.config import load_settings
from bot.outcomes import TrackRecords, compute_record
from bot.rules.files import load_rules, rule_symbols
from bot.sources.french_csv import read_french_file
from bot.sources.valuation import valuation_points
from signals.models import MarketData
from signals.outcome_text import outcome_line, outcome_table, why_no_line
from signals.rules import Rule

TARGET_SECONDS = 1.0
NAMED = ("iwm-beats-iwb-400bps-42d", "rut-all-time-high", "valuation-gap-widest-since-2008")
FRENCH_ZIP = Path("valuation") / "25_Portfolios_5x5_CSV_202510.zip"


def with_valuation(market: MarketData, data: Path) -> MarketData:
    """The market with the French library's monthly `ff:` series, when the file is there."""
    if not (data / FRENCH_ZIP).is_file():
        return market
    points = valuation_points(read_french_file(data / FRENCH_ZIP))
    series = {
        sid: pd.Series(
            [p.value for p in found], pd.DatetimeIndex([p.date for p in found]), name=sid
        )
        for sid, found in points.items()
    }
    return replace(market, series={**market.series, **series})


def all_records(rules: list[Rule], market: MarketData) -> int:
    """Every rule's record on a fresh copy of the market (empty memo); how many had data."""
    fresh = replace(market)
    return sum(compute_record(rule, fresh) is not None for rule in rules)


def cached_records(rules: list[Rule], market: MarketData, cache: TrackRecords) -> int:
    """The same through the per-data-version cache (warm)."""
    return sum(cache.record(rule, market, version=1) is not None for rule in rules)


def _timing(label: str, best: float, median: float) -> str:
    return f"{label:<24} best {best * 1000:7.1f} ms  median {median * 1000:7.1f} ms"


def main() -> None:
    """Print the time for all default rules, the cached time, and the named rules' figures."""
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else DATA
    rules = load_rules(load_settings(None))
    market = to_market(
        *read_all(price_files(data, rule_symbols(rules)), data / "macro" / "fred_rates_daily.csv")
    )
    market = with_valuation(market, data)
    with_data = all_records(rules, market)
    best, median = best_of(lambda: all_records(rules, market))
    cache = TrackRecords()
    cached_records(rules, market, cache)
    warm_best, warm_median = best_of(lambda: cached_records(rules, market, cache))
    print(f"{len(rules)} default rules, {with_data} with data")
    print(_timing("track records, cold", best, median))
    print(_timing("track records, cached", warm_best, warm_median))
    verdict = "OK" if median < TARGET_SECONDS else "MISSED"
    share = median / TARGET_SECONDS
    print(f"target < {TARGET_SECONDS:.0f} s for all rules: {verdict} ({share:.2f}x of budget)")
    by_id = {rule.id: rule for rule in rules}
    for rule_id in NAMED:
        record = compute_record(by_id[rule_id], market)
        if record is None:
            print(f"{rule_id}: no data")
            continue
        about = f"{record.tracked.label} ({record.tracked.unit}), {len(record.fired)} firings"
        print(f"\n{rule_id}: {about}, {record.since} to {record.until}")
        print(outcome_table(record))
        print(outcome_line(record) or f"no alert line: {why_no_line(record)}")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"\n(total run {time.perf_counter() - started:.1f} s)")

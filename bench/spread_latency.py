"""`/spread` and `/signals` latency through the command core (targets: /spread p95 <= 50 ms,
/signals p50 <= 50 ms on unchanged data).

Fills a temporary SQLite file from ../shared/data/prices (every symbol, full history), opens
the command core on it, warms it with one call, then times a few hundred `/spread` calls over
a mix of symbol pairs and windows, as a chat adapter would make them (parsing included).
`/signals` is timed over the default rules on unchanged data (answered from the command core's
cache) and right after a write to the prices (the first question after each refresh).

    python bench/spread_latency.py [--calls 400] [--data ../shared/data/prices]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from bot.chat.core import Commands
from bot.config import load_settings
from bot.sources.csv_dir import CsvDirSource, price_files, symbol_for
from signals.measures import spread
from signals.models import MarketData
from storage.db import open_db
from storage.prices import count_rows, last_dates, load_prices, set_statuses, upsert_bars

ROOT = Path(__file__).resolve().parent.parent

PAIRS = [("IWC", "OEF"), ("IWM", "IWB"), ("^RUT", "^GSPC"), ("IJR", "SPY"), ("RSP", "QQQ")]
WINDOWS = ["ytd", "qtd", "mtd", "1m", "3m", "6m", "1y", "42d", "252d", "since:2020-03-23"]


def fill_cache(db_file: Path, data: Path) -> int:
    """Import every price file into a fresh database; return the rows stored."""
    db = open_db(db_file)
    source = CsvDirSource(data)
    symbols = [symbol_for(path) for path in price_files(data)]
    result = source.fetch({symbol: date(1900, 1, 1) for symbol in symbols})
    for bars in result.bars.values():
        upsert_bars(db, bars)
    rows = count_rows(db)
    db.close()
    return rows


def time_calls(core: Commands, calls: int) -> list[float]:
    """Milliseconds per `/spread` call, cycling through pairs and windows."""
    timings = []
    for i in range(calls):
        a, b = PAIRS[i % len(PAIRS)]
        window = WINDOWS[(i // len(PAIRS)) % len(WINDOWS)]
        start = time.perf_counter()
        core.spread(a.lower(), b, window)
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def time_full_loads(db_file: Path, calls: int) -> list[float]:
    """Milliseconds per spread when every call loads both legs' full history (the baseline)."""
    db = open_db(db_file)
    timings = []
    for i in range(calls):
        a, b = PAIRS[i % len(PAIRS)]
        window = WINDOWS[(i // len(PAIRS)) % len(WINDOWS)]
        start = time.perf_counter()
        spread(MarketData(prices=load_prices(db, [a, b])), a, b, window)
        timings.append((time.perf_counter() - start) * 1000)
    db.close()
    return timings


def time_other_commands(core: Commands) -> str:
    """Median ms of /signal over the default rules (no target; adapters defer it)."""
    detail = [_timed(lambda rule=rule: core.signal(rule)) for rule in core.rule_ids()]
    return f"/signal ID p50 {statistics.median(detail):.0f} ms, max {max(detail):.0f} ms"


def time_signals(core: Commands, calls: int) -> tuple[list[float], list[float]]:
    """Milliseconds per /signals on unchanged data, and right after a write (one per call)."""
    core.signals()  # warm: imports, page cache
    unchanged = [_timed(core.signals) for _ in range(calls)]
    after_write = []
    for _ in range(max(calls // 10, 3)):
        last = last_dates(core.db)["SPY"]
        set_statuses(core.db, "SPY", [(last, "ok", "")])  # a write that changes no value
        after_write.append(_timed(core.signals))
    return unchanged, after_write


def _timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by the nearest-rank method."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def main() -> int:
    """Run the benchmark and print p50/p95."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "prices")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"no price data at {args.data}; see ../shared/data/README.md", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        db_file = Path(tmp) / "bench.db"
        started = time.perf_counter()
        rows = fill_cache(db_file, args.data)
        print(f"cache: {rows} rows in {time.perf_counter() - started:.1f} s")
        clock = lambda: datetime(2026, 11, 21, tzinfo=UTC)  # noqa: E731
        core = Commands(load_settings(None), open_db(db_file), rules=[], clock=clock)
        time_calls(core, len(PAIRS) * 2)  # warm: imports, page cache, pandas paths
        timings = time_calls(core, args.calls)
        baseline = time_full_loads(db_file, min(args.calls, 100))
        signals_core = Commands(load_settings(None), open_db(db_file), clock=clock)
        others = time_other_commands(signals_core)
        unchanged, after_write = time_signals(signals_core, min(args.calls, 100))
    p50, p95 = percentile(timings, 50), percentile(timings, 95)
    print(
        f"/spread x{len(timings)}: p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
        f"max {max(timings):.1f} ms, mean {statistics.fmean(timings):.1f} ms (target p95 <= 50 ms)"
    )
    print(
        f"baseline, full-history load per call x{len(baseline)}: "
        f"p50 {percentile(baseline, 50):.1f} ms, p95 {percentile(baseline, 95):.1f} ms"
    )
    print(
        f"/signals x{len(unchanged)} on unchanged data: p50 {percentile(unchanged, 50):.1f} ms, "
        f"p95 {percentile(unchanged, 95):.1f} ms (target p50 <= 50 ms); right after a write "
        f"x{len(after_write)}: p50 {percentile(after_write, 50):.0f} ms, "
        f"p95 {percentile(after_write, 95):.0f} ms"
    )
    print("for comparison (adapters must defer it):", others)
    return 0 if p95 <= 50 and percentile(unchanged, 50) <= 50 else 1


if __name__ == "__main__":
    raise SystemExit(main())

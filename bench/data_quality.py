"""What the data-quality checks cost: importing all shared data, and the backtest from SQLite.

Usage: python bench/data_quality.py [DATA_DIR]   (default: ../shared/data)

Times, best of several runs, on a fresh SQLite file: reading every price CSV (row checks
included), writing it, judging the moves (`bot.sources.quality.review_prices`), the same for the
FRED file, then loading the market from SQLite and backtesting every default rule (what
`rotation-bot backtest` does). Written against APIs that predate the checks, so the same
script run on an older checkout (PYTHONPATH) gives the "before" numbers: the review steps
are then reported as absent. Goal: the checks add at most 10 % to import and backtest.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bot.config import load_settings
from bot.rules.files import load_rules
from bot.service.evaluation import load_market
from bot.sources.csv_dir import price_files, read_price_csv, symbol_for
from bot.sources.series_csv import read_series_file
from signals.evaluate import backtest_rule
from signals.legs import DataError
from storage.db import open_db
from storage.prices import upsert_bars
from storage.series import upsert_points

try:  # absent before the checks existed: the "before" run skips the review step
    from bot.sources import quality
except ImportError:  # pragma: no cover - only on an older checkout
    quality = None  # type: ignore[assignment]

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
REPEATS = 3


def best(action: Callable[[], object], repeats: int = REPEATS) -> float:
    """Best wall time in seconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def import_all(data: Path, db_path: Path) -> dict[str, float]:
    """Seconds per step of one full import into a fresh file."""
    db_path.unlink(missing_ok=True)
    db = open_db(db_path)
    steps: dict[str, float] = {}
    started = time.perf_counter()
    files = price_files(data / "prices")
    bars = [read_price_csv(path) for path in files]
    points = read_series_file(data / "macro" / "fred_rates_daily.csv")
    steps["read"] = time.perf_counter() - started
    started = time.perf_counter()
    with db.atomic():
        for file_bars in bars:
            upsert_bars(db, file_bars)
        for values in points.values():
            upsert_points(db, values)
    steps["write"] = time.perf_counter() - started
    if quality is not None:
        started = time.perf_counter()
        config = quality.DEFAULT_CONFIG
        known = {symbol_for(p): quality.frame_of_bars(b) for p, b in zip(files, bars, strict=True)}
        quality.review_prices(db, list(known), config, known=known)  # as a first import does
        series = {sid: quality.series_of_points(values) for sid, values in points.items()}
        quality.review_series(db, list(series), config, known=series)
        steps["review"] = time.perf_counter() - started
    db.close()
    return steps


def backtest_all(db_path: Path) -> int:
    """Load the market from SQLite and backtest every default rule; events found."""
    db = open_db(db_path)
    rules = load_rules(load_settings(None))
    market = load_market(db, rules)
    count = 0
    for rule in rules:
        try:
            count += len(backtest_rule(rule, market))
        except DataError:
            continue
    db.close()
    return count


def main(argv: list[str]) -> int:
    """Print the timings."""
    data = Path(argv[1]) if len(argv) > 1 else DEFAULT
    if not (data / "prices").is_dir():
        print(f"skipped: no shared data at {data} (see its README)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.db"
        runs = [import_all(data, db_path) for _ in range(REPEATS)]
        steps = {step: min(run[step] for run in runs) for step in runs[0]}
        total = sum(steps.values())
        detail = "  ".join(f"{step} {seconds:.3f}s" for step, seconds in steps.items())
        print(f"checks: {'present' if quality else 'absent (before)'}")
        print(f"import all shared data  {detail}  total {total:.3f}s")
        events = backtest_all(db_path)
        seconds = best(lambda: backtest_all(db_path), 5)
        print(f"backtest from SQLite    {seconds * 1000:.1f} ms ({events} events)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

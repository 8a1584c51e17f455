"""The valuation gap on the shared French library files: import time, the measure, the vintages.

Usage: python bench/valuation.py [VALUATION_DIR]   (default: ../shared/data/valuation)

Prints the time to parse and to store each 5x5 zip (in process, best of 3, and `rotation-bot
series import` end to end), the latest relative P/B, the months since 2008 that set a new low
and the default rule's backtest events, and how the 202412 and 202510 vintages differ.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

from bot.config import load_settings
from bot.rules.files import load_rules
from bot.service.evaluation import load_market
from bot.sources.french_csv import read_french_file
from bot.sources.valuation import store_valuation, valuation_points
from signals.evaluate import backtest_rule
from storage.db import open_db
from storage.series import load_series

DEFAULT_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "valuation"
RULE = "valuation-gap-widest-since-2008"


def best_of(runs: int, action: object) -> float:
    """The fastest of `runs` calls of `action`, in seconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def time_import(zip_path: Path) -> None:
    parse = best_of(3, lambda: read_french_file(zip_path))
    file = read_french_file(zip_path)
    measure = best_of(3, lambda: valuation_points(file))

    def store() -> None:
        with tempfile.TemporaryDirectory() as folder:
            db = open_db(Path(folder) / "bench.db")
            store_valuation(db, file)
            db.close()

    stored = best_of(3, store)
    print(f"{zip_path.name}: parse {parse * 1000:.0f} ms, measure {measure * 1000:.0f} ms,"
          f" parse+measure+store into a fresh SQLite {(parse + stored) * 1000:.0f} ms")  # fmt: skip
    cli = time_cli(zip_path)
    if cli is not None:
        print(f"  `rotation-bot series import` end to end: {cli:.2f} s")


def time_cli(zip_path: Path) -> float | None:
    command = shutil.which("rotation-bot")
    if command is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        args = [command, "--db", str(Path(folder) / "cli.db"), "series", "import", str(zip_path)]
        started = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        return time.perf_counter() - started


def report_measure(db_path: Path) -> None:
    db = open_db(db_path)
    values = load_series(db)["ff:pb_small_vs_large"]
    micro = load_series(db)["ff:pb_micro_vs_large"]
    print(f"latest relative P/B (small / large) {values.index[-1]:%Y-%m}: {values.iloc[-1]:.4f};"
          f" micro / large {micro.iloc[-1]:.4f}")  # fmt: skip
    since = values[values.index >= "2008-01-01"]
    prior = since.shift(1).cummin()
    records = since[since < prior]
    print(f"months since 2008 below every earlier month since 2008 ({len(records)}):")
    print("  " + ", ".join(f"{day:%Y-%m} {value:.3f}" for day, value in records.items()))
    rules = [r for r in load_rules(load_settings(None)) if r.id == RULE]
    events = backtest_rule(rules[0], load_market(db, rules), date(2008, 1, 1))
    print(f"default rule ({rules[0].hysteresis:g} % hysteresis) fired on:")
    for event in events:
        print(f"  {event.date} {event.title}")
    db.close()


def compare_vintages(folder: Path) -> None:
    old = valuation_points(read_french_file(folder / "25_Portfolios_5x5_CSV_202412.zip"))
    new = valuation_points(read_french_file(folder / "25_Portfolios_5x5_CSV_202510.zip"))
    print("202412 -> 202510 (months both hold):")
    for sid in old:
        a = pd.Series({p.date: p.value for p in old[sid]})
        b = pd.Series({p.date: p.value for p in new[sid]})
        change = (b[a.index] / a - 1) * 100
        since = change[change.index >= date(2008, 1, 1)]
        worst = change.abs().idxmax()
        print(f"  {sid}: {int((change.abs() > 1e-9).sum()):,} of {len(a):,} months revised;"
              f" median |change| {change.abs().median():.2f} %, since 2008 max"
              f" {since.abs().max():.2f} %; largest {worst:%Y-%m} {change[worst]:+.2f} %;"
              f" 2024-12 {a.iloc[-1]:.4f} -> {b[a.index[-1]]:.4f}")  # fmt: skip


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    if not (folder / "25_Portfolios_5x5_CSV_202510.zip").is_file():
        sys.exit(f"no French library files in {folder} (see ../shared/data/valuation/README.md)")
    for vintage in ("202412", "202510"):
        time_import(folder / f"25_Portfolios_5x5_CSV_{vintage}.zip")
    with tempfile.TemporaryDirectory() as scratch:
        db_path = Path(scratch) / "valuation.db"
        db = open_db(db_path)
        for vintage in ("202412", "202510"):
            store_valuation(db, read_french_file(folder / f"25_Portfolios_5x5_CSV_{vintage}.zip"))
        db.close()
        report_measure(db_path)
    compare_vintages(folder)


if __name__ == "__main__":
    main()

"""Time importing every shared price CSV into a fresh SQLite file, then re-importing it.

Usage: python bench/import_prices.py [PRICES_DIR]   (default: ../shared/data/prices)

Prints parse and write times for the first import and for a re-import (which must change
nothing), plus the end-to-end time of `rotation-bot prices import` as a user runs it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.sources.csv_dir import price_files, read_price_csv
from signals.models import PriceBar
from storage.db import open_db
from storage.prices import count_rows, upsert_bars

DEFAULT_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "prices"


def parse_all(directory: Path) -> tuple[list[list[PriceBar]], float]:
    """Bars of every file and the seconds it took to read them."""
    started = time.perf_counter()
    bars = [read_price_csv(path) for path in price_files(directory)]
    return bars, time.perf_counter() - started


def write_all(db_path: Path, bars: list[list[PriceBar]]) -> tuple[int, float]:
    """Rows changed and seconds taken to upsert every file's bars in one transaction."""
    db = open_db(db_path)
    started = time.perf_counter()
    with db.atomic():
        changed = sum(upsert_bars(db, file_bars) for file_bars in bars)
    seconds = time.perf_counter() - started
    db.close()
    return changed, seconds


def time_cli(directory: Path, db_path: Path) -> float | None:
    """Wall-clock seconds of `rotation-bot prices import` in a fresh process, if installed."""
    command = shutil.which("rotation-bot")
    if command is None:
        return None
    started = time.perf_counter()
    args = [command, "--db", str(db_path), "prices", "import", str(directory)]
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - started


def report(label: str, rows: int, changed: int, parse: float, write: float) -> None:
    """One line of results."""
    total = parse + write
    print(
        f"{label:<10} rows {rows:>8,}  changed {changed:>8,}  parse {parse:6.3f}s  "
        f"write {write:6.3f}s  total {total:6.3f}s  ({rows / total:,.0f} rows/s)"
    )


def main(argv: list[str]) -> int:
    """Run the benchmark; return the exit status."""
    directory = Path(argv[1]) if len(argv) > 1 else DEFAULT_DIR
    if not directory.is_dir() or not price_files(directory):
        print(f"skipped: no price CSVs at {directory} (see ../shared/data/README.md)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.db"
        bars, parse = parse_all(directory)
        rows = sum(len(file_bars) for file_bars in bars)
        print(f"{len(bars)} files from {directory}")
        changed, write = write_all(db_path, bars)
        report("import", rows, changed, parse, write)
        bars, parse = parse_all(directory)
        changed, write = write_all(db_path, bars)
        report("re-import", rows, changed, parse, write)
        assert changed == 0 and count_rows(open_db(db_path)) == rows
        for label, path in (("fresh", Path(tmp) / "cli.db"), ("again", Path(tmp) / "cli.db")):
            seconds = time_cli(directory, path)
            if seconds is not None:
                print(f"CLI {label:<6} `rotation-bot prices import` end to end: {seconds:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Rewind marks on a desk's afternoon: rows stored, and what a check costs while they stand.

Usage: python bench/rewind_marks.py [REFRESHES] [--data DIR]   (default REFRESHES: 12)

Imports the shared data into a scratch database, checks the default rules plus 300 generated
ones (`tests/rule_mix.py`) until they are current, then times a check with no new bar three
times: the floor. Then, REFRESHES times, a refresh rewrites the provisional bar of the next
session of ^RUT, 50 % up and moving a little each time, held as suspect by the quality
review (what `prices update` stores during a session), and the same check runs, timed. It
prints the `rewinds` rows after each refresh and after its check, and the checks' median
time as a ratio to the floor. For the before, run it from the base commit's worktree with
its environment (`cd BASE && .venv/bin/python /path/to/bench/rewind_marks.py`): the first
line names the code measured.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

# The project root it is run from (for bench and tests.rule_mix): run from another worktree
# with that worktree's environment, it measures that worktree's code (the before).
sys.path.insert(0, str(Path.cwd()))

import storage.rewinds
from bench.many_rules import DEFAULT, fill
from bot.rules.files import default_entries, parse_entries, read_entries
from bot.service.evaluation import check_rules
from signals.models import PriceBar
from storage.db import open_db
from storage.prices import last_dates, load_prices, set_statuses, upsert_bars
from tests.rule_mix import generate_rules

NOW = datetime(2026, 8, 24, 22, 0, tzinfo=UTC)
SYMBOL = "^RUT"


def timed_check(db: object, rules: list) -> float:
    started = time.perf_counter()
    check_rules(db, rules, now=NOW)  # type: ignore[arg-type]
    return time.perf_counter() - started


def rows(db: object) -> int:
    return int(db.execute("SELECT count(*) FROM rewinds").fetchone()[0])  # type: ignore[attr-defined]


def main() -> int:
    args = sys.argv[1:]
    data = DEFAULT
    if "--data" in args:
        at = args.index("--data")
        data = Path(args[at + 1])
        del args[at : at + 2]
    refreshes = int(args[0]) if args else 12
    print(f"code: {Path(storage.rewinds.__file__).resolve().parent.parent}")
    generated, problems = parse_entries(read_entries(generate_rules(300), "generated.toml"))
    defaults, _ = parse_entries(default_entries())
    assert not problems, problems
    rules = defaults + generated
    with tempfile.TemporaryDirectory() as tmp:
        fill(Path(tmp) / "desk.db", data)
        db = open_db(Path(tmp) / "desk.db")
        check_rules(db, rules, now=NOW)  # prime and catch up
        floor = statistics.median(timed_check(db, rules) for _ in range(3))
        last = last_dates(db)[SYMBOL]
        day = last + timedelta(days=3 if last.weekday() == 4 else 1)
        close = float(load_prices(db, [SYMBOL], start=last)[SYMBOL]["close"].iloc[-1])
        times = []
        for minute in range(refreshes):
            bar = PriceBar(SYMBOL, day, close=close * (1.5 + minute / 1000), final=False)
            upsert_bars(db, [bar])
            set_statuses(db, SYMBOL, [(day, "suspect", "one-day move of +50 %")])
            stored = rows(db)
            times.append(timed_check(db, rules))
            print(f"refresh {minute + 1:>3}: rewinds rows {stored}, after its check {rows(db)}")
        db.close()
    desk = statistics.median(times)
    print(f"check, no new bar (floor): {floor * 1000:8.1f} ms")
    print(f"check after each refresh:  {desk * 1000:8.1f} ms  ({desk / floor:.2f}x the floor)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

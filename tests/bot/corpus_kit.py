"""Corrupted copies of the shared real data, one corruption each (the corruption corpus).

`clean_copy` writes the files the default rules read (plus linked instruments) into a
directory; each `Variant` damages one thing in such a copy. Add a variant by writing a small
function and appending it to `VARIANTS`. `refused` says what the import must do: refuse the
file with a line-numbered error (True), or import it and let the quality checks keep the bad
value away from every rule (False).
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tests.corruptions import cut_sessions

# The default rules read these; SPY, OEF and IWB also confirm ^GSPC's moves, IWM and IWC
# ^RUT's; ^IRX is the 3-month bill from Yahoo, DGS3MO's twin.
SYMBOLS = ("IWC", "OEF", "IWM", "IWB", "^RUT", "^GSPC", "SPY", "^IRX")
# Older ^GSPC rows only slow the corpus down: ^RUT (the other leg of the ratio) starts in 1987.
GSPC_FROM = "1987-01-01"
MACRO = "fred_rates_daily.csv"
# Rules the reports fired on besides the defaults: one-day moves of the yields.
EXTRA_RULES = """
[[rules]]
id = "ten-year-jumps"
type = "rate_change"
series = "DGS10"
direction = "either"
min_change_bps = 50

[[rules]]
id = "bill-yield-jumps"
type = "rate_change"
series = "DGS3MO"
direction = "either"
min_change_bps = 50
"""
# Quiet days on which no default rule has an event in the clean data (checked by the corpus).
DAY = "2024-03-13"
OTHER_DAY = "2019-07-10"
# 42 sessions after 2025-04-09 (+9 %): a window of one leg shifted by a session shows it.
SPREAD_DAY = "2025-06-09"
CRASH_DAY = "2020-03-16"


def clean_copy(shared: Path, target: Path) -> Path:
    """The clean copy: `target/prices/*.csv` and `target/macro/fred_rates_daily.csv`."""
    (target / "prices").mkdir(parents=True)
    (target / "macro").mkdir()
    for symbol in SYMBOLS:
        shutil.copy(shared / "prices" / f"{symbol}.csv", target / "prices" / f"{symbol}.csv")
    rows = read(target, "^GSPC")
    write(target, "^GSPC", [rows[0], *[r for r in rows[1:] if r[0] >= GSPC_FROM]])
    shutil.copy(shared / "macro" / MACRO, target / "macro" / MACRO)
    return target


def path_of(root: Path, name: str) -> Path:
    """A symbol's price file, or the macro file for `macro`."""
    return root / "macro" / MACRO if name == "macro" else root / "prices" / f"{name}.csv"


def read(root: Path, name: str) -> list[list[str]]:
    """Every row of a file, header first."""
    with path_of(root, name).open(newline="") as handle:
        return list(csv.reader(handle))


def write(root: Path, name: str, rows: list[list[str]]) -> None:
    """Replace a file's rows."""
    with path_of(root, name).open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def edit_row(
    root: Path, name: str, day: str, change: Callable[[list[str], list[str]], None]
) -> None:
    """Apply `change(header, row)` to the row dated `day`."""
    rows = read(root, name)
    row = next(r for r in rows if r[0] == day)
    change(rows[0], row)
    write(root, name, rows)


def set_cells(root: Path, name: str, day: str, columns: tuple[str, ...], value: object) -> None:
    """Put `value` (a number, text, or a function of the old number) into columns of a row."""

    def change(header: list[str], row: list[str]) -> None:
        for column in columns:
            i = header.index(column)
            if row[i] or not callable(value):  # an empty cell stays empty when scaled
                row[i] = str(value(float(row[i])) if callable(value) else value)

    edit_row(root, name, day, change)


def add_row(root: Path, name: str, day: str, like: str) -> None:
    """Insert a copy of the row dated `like`, dated `day`, in date order."""
    rows = read(root, name)
    copy = [day, *next(r for r in rows if r[0] == like)[1:]]
    body = sorted([*rows[1:], copy], key=lambda r: r[0])
    write(root, name, [rows[0], *body])


PRICES = ("Close", "Adj Close")


@dataclass(frozen=True)
class Variant:
    """One corruption of the clean copy.

    `single_day`: one bad value, which may cost no real event (a hole of many sessions may).
    `fresh`: import the whole damaged copy into an empty cache instead of importing the
    changed files over the clean cache (needed when the corruption deletes rows).
    `transient`: the damaged rows are provisional (a partial session): delivered on their own
    evening only, the final rows the next (`tests/bot/corpus_matrix.py`).
    `live_from`: the first evening a live run delivers, for damage that starts with the history.
    """

    name: str
    corrupt: Callable[[Path], None]
    refused: bool
    single_day: bool = True
    fresh: bool = False
    transient: bool = False
    live_from: str = ""


def _scale(name: str, factor: float, day: str = DAY, columns: tuple[str, ...] = PRICES):
    return lambda root: set_cells(root, name, day, columns, lambda v: round(v * factor, 4))


def _scale_run(names: tuple[str, ...], factor: float, sessions: int, first: str = DAY):
    """Several symbols scaled on `sessions` consecutive rows from `first` (bad data that lasts)."""

    def corrupt(root: Path) -> None:
        for name in names:
            rows = read(root, name)
            at = next(i for i, r in enumerate(rows) if r[0] == first)
            for row in rows[at : at + sessions]:
                set_cells(root, name, row[0], PRICES, lambda v: round(v * factor, 4))

    return corrupt


def _ramp(name: str, total: float, sessions: int, first: str = DAY):
    """A level creeping to `total` times the real one over `sessions`, then back at once."""

    def corrupt(root: Path) -> None:
        rows = read(root, name)
        at = next(i for i, r in enumerate(rows) if r[0] == first)
        columns = [rows[0].index(column) for column in PRICES]
        for step, row in enumerate(rows[at : at + sessions], start=1):
            for i in columns:
                if row[i]:
                    row[i] = str(round(float(row[i]) * total ** (step / sessions), 4))
        write(root, name, rows)

    return corrupt


def _frozen(name: str, sessions: int, first: str = DAY):
    """A feed stuck on one bar's values for `sessions` sessions (the real ones resume after)."""

    def corrupt(root: Path) -> None:
        rows = read(root, name)
        at = next(i for i, r in enumerate(rows) if r[0] == first)
        for i in range(at + 1, at + sessions):
            rows[i] = [rows[i][0], *rows[at][1:]]
        write(root, name, rows)

    return corrupt


def _other_symbols_prices(name: str, other: str, since: str = "0"):
    """`name`'s file holding `other`'s rows from `since` on (a symbol mapping mix-up)."""

    def corrupt(root: Path) -> None:
        theirs = {r[0]: r for r in read(root, other)[1:]}
        rows = read(root, name)
        body = [theirs.get(r[0], r) if r[0] >= since else r for r in rows[1:]]
        write(root, name, [rows[0], *body])

    return corrupt


def _unadjusted_split(name: str, ratio: float, since: str = DAY):
    """Prices from `since` on not adjusted for a split the vendor applied to older rows."""

    def corrupt(root: Path) -> None:
        rows = read(root, name)
        columns = [rows[0].index(column) for column in PRICES]
        for row in rows[1:]:
            for i in columns:
                if row[0] >= since and row[i]:
                    row[i] = str(round(float(row[i]) / ratio, 4))
        write(root, name, rows)

    return corrupt


def _fed_bounds_crossed(root: Path) -> None:
    """DFEDTARU 25 bps below DFEDTARL on a Friday, carried over the weekend (FRED repeats it)."""
    for day in ("2024-03-15", "2024-03-16", "2024-03-17"):
        set_cells(root, "macro", day, ("DFEDTARU",), 5.0)


def _swap_digits(root: Path) -> None:
    def swap(value: float) -> str:
        text = f"{value:.2f}"
        return text[0] + text[2] + text[1] + text[3:]  # 2071.71 -> 2701.71, a fake record

    set_cells(root, "^RUT", DAY, PRICES, swap)


def _stale_repeat(root: Path) -> None:
    rows = read(root, "IWC")
    at = next(i for i, r in enumerate(rows) if r[0] == DAY)
    rows[at] = [DAY, *rows[at - 1][1:]]
    write(root, "IWC", rows)


def _duplicate_with_spike_first(root: Path) -> None:
    rows = read(root, "IWM")
    at = next(i for i, r in enumerate(rows) if r[0] == DAY)
    spike = [DAY, *(str(float(c) * 10) if c else c for c in rows[at][1:])]
    rows.insert(at, spike)
    write(root, "IWM", rows)


def _last_bar_x10(root: Path) -> None:
    rows = read(root, "^RUT")
    last = rows[-1][0]
    set_cells(root, "^RUT", last, PRICES, lambda v: v * 10)


def _hole(name: str, start: str, end: str):
    """Two months of sessions missing from one file (a feed outage never back-filled)."""
    return lambda root: cut_sessions(
        path_of(root, name), date.fromisoformat(start), date.fromisoformat(end)
    )


def _macro(column: str, value: object, day: str = DAY):
    return lambda root: set_cells(root, "macro", day, (column,), value)


def _future(day: str):
    return lambda root: add_row(root, "IWM", day, DAY)


VARIANTS: list[Variant] = [
    Variant("index x10 tick", _scale("^RUT", 10), refused=False),
    Variant("index /10 tick", _scale("^RUT", 0.1), refused=False),
    Variant("ETF x10 tick (Adj Close only)", _scale("IWM", 10, columns=("Adj Close",)), False),
    Variant("micro-cap +60 % for a day", _scale("IWC", 1.6), refused=False),
    Variant("S&P 500 x2 for a day", _scale("^GSPC", 2, OTHER_DAY), refused=False),
    Variant("swapped digits", _swap_digits, refused=False),
    Variant("stale repeated value", _stale_repeat, refused=False),
    Variant("x10 on the newest bar", _last_bar_x10, refused=False),
    Variant("empty Close cell", lambda r: set_cells(r, "^RUT", DAY, ("Close",), ""), False),
    Variant("Saturday row", lambda r: add_row(r, "IWM", "2024-03-16", DAY), refused=True),
    Variant("holiday row", lambda r: add_row(r, "^RUT", "2023-12-25", DAY), refused=True),
    Variant("far-future row", _future("2031-01-02"), refused=True),
    Variant("next-year row", _future(f"{date.today().year + 1}-01-05"), refused=True),
    Variant("1e300 close", lambda r: set_cells(r, "IWC", DAY, PRICES, "1e300"), refused=True),
    Variant("zero close", lambda r: set_cells(r, "IWB", DAY, PRICES, 0), refused=True),
    Variant("negative close", lambda r: set_cells(r, "OEF", DAY, PRICES, -12.5), refused=True),
    Variant("infinite close", lambda r: set_cells(r, "IWM", DAY, PRICES, "inf"), refused=True),
    Variant("duplicated date, spike first", _duplicate_with_spike_first, refused=True),
    Variant("bogus Fed target 45 %", _macro("DFEDTARU", 45), refused=True),
    Variant("bogus Fed target 9.5 % for a day", _macro("DFEDTARU", 9.5), refused=False),
    Variant("10-year yield spike +300 bps", _macro("DGS10", lambda v: v + 3), False),
    Variant("3-month yield collapse to 0", _macro("DGS3MO", 0.0), refused=False),
    Variant("future FRED date", lambda r: add_row(r, "macro", "2031-01-02", DAY), True),
    # Many sessions gone: rules over the hole wait (NO DATA), so real events may be missed,
    # but nothing computed across it may fire or reverse.
    Variant("two-month hole in IWB", _hole("IWB", "2010-07-01", "2010-08-31"), False, False, True),
    Variant("two-month hole in IWC", _hole("IWC", "2025-03-03", "2025-04-30"), False, False, True),
    # Issue 19: a discarded (or missing) bar must not start IWM's 42-session window a session
    # before IWB's (across 2025-04-09's +9 % day that was "IWM beats IWB by 1149 bps").
    Variant("discarded IWM bar before a 42d spread", _scale("IWM", 10, SPREAD_DAY), False),
    Variant("missing IWM session", _hole("IWM", SPREAD_DAY, SPREAD_DAY), False, True, True),
    # Bad data that lasts (issue 19): the same feed repeating a level confirms nothing.
    Variant("index x10 for two sessions", _scale_run(("^RUT",), 10, 2), False, False),
    Variant("index x1.5 for three sessions", _scale_run(("^RUT",), 1.5, 3), False, False),
    Variant("micro-cap x1.6 for two sessions", _scale_run(("IWC",), 1.6, 2), False, False),
    Variant("index and ETF x1.25 the same day", _scale_run(("^RUT", "IWM"), 1.25, 1), False),
    Variant("index and ETF x1.2 for two sessions", _scale_run(("^RUT", "IWM"), 1.2, 2), False),
    Variant("S&P 500 and OEF x1.15 the same day", _scale_run(("^GSPC", "OEF"), 1.15, 1), False),
    # Identity and shape (issue 19, item 4).
    Variant(
        "IWM's file holding IWB's prices",
        _other_symbols_prices("IWM", "IWB"),
        refused=True,
        live_from=DAY,
    ),
    # Nothing stored to compare with: its moves follow IWB, not ^RUT or IWC.
    Variant(
        "IWM's file holding IWB's prices, empty cache",
        _other_symbols_prices("IWM", "IWB"),
        refused=True,
        fresh=True,
    ),
    Variant(
        "IWB's prices in IWM's file from a date on",
        _other_symbols_prices("IWM", "IWB", DAY),
        False,
        False,
    ),
    Variant("micro-cap frozen for 10 sessions", _frozen("IWC", 10), False, False),
    Variant("index ramp x1.3 over 6 sessions", _ramp("^RUT", 1.3, 6), False, False),
    Variant("micro-cap ramp x1.6 over 8 sessions", _ramp("IWC", 1.6, 8), False, False),
    Variant("unadjusted 2-for-1 split in IWM", _unadjusted_split("IWM", 2), False, False),
    Variant("Fed upper bound below the lower over a weekend", _fed_bounds_crossed, False),
    # FRED's "." on the day of the Fed cut (Friday 2024-11-08): the cut is dated that Friday.
    Variant(
        "FRED's . on the Fed cut day",
        lambda r: set_cells(r, "macro", "2024-11-08", ("DFEDTARU", "DFEDTARL"), "."),
        refused=False,
        fresh=True,
    ),
    # A fake record held back must not cost the real one a week later (2025-09-18).
    Variant("fake record before a real one", _scale_run(("^RUT",), 10, 2, "2025-09-10"), False),
    # Real moves still fire on time: ^RUT's -14 % day agrees with IWC while IWM's bar is gone.
    Variant("missing IWM bar on 2020-03-16", _hole("IWM", CRASH_DAY, CRASH_DAY), False, True, True),
]


# -- the rest of issue 19's table, run by tests/bot/corpus_matrix.py on both paths -------------

BILL_DAYS = ("2024-11-19", "2024-11-20", "2024-11-21")  # 10y-3m inverted by 16-40 bps then
PARTIAL_DAY, RECORD_DAY = "2026-06-10", "2026-06-11"  # the eve of a real ^RUT record


def _bill_low(root: Path) -> None:
    for day in BILL_DAYS:
        set_cells(root, "macro", day, ("DGS3MO",), lambda v: round(v - 0.5, 2))


def _partial_before_record(root: Path) -> None:
    """A 14:05 snapshot stored as a close: ^RUT above the next day's real record, ETFs alike."""
    record = float(next(r for r in read(root, "^RUT") if r[0] == RECORD_DAY)[4])
    eve = float(next(r for r in read(root, "^RUT") if r[0] == PARTIAL_DAY)[4])
    factor = record * 1.002 / eve
    for name in ("^RUT", "IWM", "IWC"):
        set_cells(root, name, PARTIAL_DAY, (*PRICES, "High"), lambda v: round(v * factor, 4))


def _shifted_dates(name: str, since: str):
    """`name`'s bars from `since` on dated one session early (a time zone slip of one feed)."""

    def corrupt(root: Path) -> None:
        rows = read(root, name)
        at = next(i for i, r in enumerate(rows) if i and r[0] >= since)
        dates = [r[0] for r in rows]
        shifted = [[dates[i - 1], *rows[i][1:]] for i in range(at, len(rows))]
        write(root, name, [*rows[: at - 1], *shifted])

    return corrupt


def _rebased_with_bad_bar(root: Path) -> None:
    """A dividend re-base of IWM's adjusted closes before DAY, carrying one old 1e300 bar."""
    rows = read(root, "IWM")
    i = rows[0].index("Adj Close")
    for row in rows[1:]:
        if row[0] < DAY and row[i]:
            row[i] = str(round(float(row[i]) * 0.995, 4))
    at = next(i for i, r in enumerate(rows) if r[0] == DAY)
    rows[at - 60][i] = rows[at - 60][rows[0].index("Close")] = "1e300"
    write(root, "IWM", rows)


MORE_VARIANTS: list[Variant] = [
    Variant("S&P 500 and SPY x1.15 the same day", _scale_run(("^GSPC", "SPY"), 1.15, 1), False),
    Variant("bill yield 50 bps low for three sessions", _bill_low, False, False),
    Variant(
        "partial bar stored on the eve of a record", _partial_before_record, False, transient=True
    ),
    Variant("IWM dated a session early from a date on", _shifted_dates("IWM", DAY), False, False),
    Variant("re-base carrying a 1e300 bar", _rebased_with_bad_bar, True, live_from=DAY),
]
# Every row of issue 19's table and its three holes, in the order of the matrix.
ALL_VARIANTS = [*VARIANTS, *MORE_VARIANTS]

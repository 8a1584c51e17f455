"""A second, independent source for the last sessions of the symbols rules fire on (issue 19).

`ROTATION_SECOND_SOURCE` maps symbols to FRED series (`^GSPC=SP500`: FRED publishes the S&P 500
close daily) or to Stooq symbols (`^RUT=stooq:^rut`, `IWM=stooq:iwm.us`: indices and ETFs);
empty, the default, turns the cross-check off. After every refresh, `cross_check` compares each
mapped symbol's last `CHECKED_SESSIONS` stored closes with the second source's on the same
dates. The stored raw `close` is compared, never `adj_close`: Stooq's ETF closes are traded
closes, not dividend-adjusted like Yahoo's. A close it contradicts (more than the tolerance
apart) is held as suspect, with both values in the note, so no rule fires on it; a suspect
close it agrees with is confirmed: agreement of an independent source, never the same feed
repeating itself. A second source that fails is reported and taken for nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from bot.config import STOOQ_PREFIX, Settings
from bot.sources.base import SourceError
from bot.sources.fred import FredSource
from bot.sources.quality import (
    SECOND_SOURCE_AGREES,
    SECOND_SOURCE_HOLDS,
    SECOND_SOURCE_READING,
    StatusChange,
    describe,
)
from bot.sources.refresh import RefreshReport
from bot.sources.stooq import StooqSource
from signals.quality import ACCEPTED, CONFIRMED, REJECTED, SUSPECT
from storage.db import Store
from storage.prices import load_for_review, noted_bars, set_statuses

# The last stored sessions compared; older ones were checked when they were new.
CHECKED_SESSIONS = 5
Fetch = Callable[[str, date], dict[date, float]]


@dataclass
class CrossCheck:
    """What the second source changed, and the symbols it could not check (with why)."""

    changes: list[StatusChange] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)


def parse_pairs(entries: Sequence[str]) -> dict[str, str]:
    """`("^GSPC=SP500",)` as {"^GSPC": "SP500"} (validated by Settings)."""
    return dict(entry.split("=", 1) for entry in entries)


def source_label(other: str) -> str:
    """How a note names the second source: `FRED SP500`, `Stooq ^rut`."""
    if other.startswith(STOOQ_PREFIX):
        return f"Stooq {other[len(STOOQ_PREFIX) :]}"
    return f"FRED {other}"


def settings_fetch(settings: Settings) -> Fetch:
    """A fetch that asks Stooq for `stooq:` entries and FRED for the others."""
    fred, stooq = FredSource.from_settings(settings), StooqSource.from_settings(settings)

    def fetch(other: str, start: date) -> dict[date, float]:
        if other.startswith(STOOQ_PREFIX):
            return stooq.fetch_levels(other[len(STOOQ_PREFIX) :], start)
        return fred.fetch_levels(other, start)

    return fetch


def cross_check(
    db: Store, fetch: Fetch, pairs: dict[str, str], symbols: Sequence[str], tolerance_pct: float
) -> CrossCheck:
    """Hold or confirm the last closes of `symbols` that `pairs` maps to a second source."""
    result = CrossCheck()
    for symbol in [s for s in symbols if s in pairs]:
        stored = load_for_review(db, [symbol]).get(symbol)
        if stored is None or stored.empty:
            continue
        recent = stored.tail(CHECKED_SESSIONS)
        first = recent.index[0].date()
        try:
            theirs = fetch(pairs[symbol], first)
        except SourceError as error:
            result.failures[symbol] = f"second source {source_label(pairs[symbol])}: {error}"
            continue
        notes = noted_bars(db, [symbol], first).get(symbol, {})
        check = Reading(source_label(pairs[symbol]), theirs, tolerance_pct)
        marks = [mark for mark in _marks(recent, notes, check) if mark[2] != notes.get(mark[0])]
        if marks:
            set_statuses(db, symbol, [(day, new, note) for day, _, (new, note) in marks])
        result.changes += [StatusChange(symbol, d, old, *new) for d, old, new in marks]
    return result


@dataclass(frozen=True)
class Reading:
    """What the second source (`label`) read per date, and how far apart still agrees."""

    label: str
    closes: dict[date, float]
    tolerance_pct: float

    def apart_pct(self, day: date, close: float) -> float | None:
        """How far our close is from theirs, in % of theirs (None without a reading)."""
        other = self.closes.get(day)
        return None if not other else (close / other - 1.0) * 100.0

    def says(self, day: date, apart: float | None) -> str:
        """`second source FRED SP500 has 282.70 on 2026-11-20 (+3.0 % apart, outside ...)`."""
        if apart is None:
            return f"second source {self.label} has no close on {day}"
        verdict = "outside" if abs(apart) > self.tolerance_pct else "within"
        return (
            f"second source {self.label} has {self.closes[day]:,.2f} on {day} ({apart:+.1f} % "
            f"apart, {verdict} its {self.tolerance_pct:g} % tolerance)"
        )


def _marks(
    recent: pd.DataFrame, notes: dict[date, tuple[str, str]], check: Reading
) -> list[tuple[date, str, tuple[str, str]]]:
    """(date, old status, (new status, note)) for each close the second source reads on."""
    marks = []
    for stamp, row in recent.iterrows():
        day, status, close = stamp.date(), str(row["status"]), row["close"]
        if status in (ACCEPTED, REJECTED) or not close:
            continue
        decision = _decide(status, notes.get(day, (status, ""))[1], check, day, close)
        if decision is not None:
            marks.append((day, status, decision))
    return marks


def _decide(
    status: str, note: str, check: Reading, day: date, close: float
) -> tuple[str, str] | None:
    """The (status, note) the second source gives one stored close, None when it has no say.

    A held close (suspect) it agrees with is confirmed; one it contradicts or has no reading for
    stays held, its reading added to the note so that a person deciding sees the evidence.
    """
    apart = check.apart_pct(day, close)
    agrees = apart is not None and abs(apart) <= check.tolerance_pct
    if status == SUSPECT and agrees:
        return CONFIRMED, f"{SECOND_SOURCE_AGREES} ({check.label} {check.closes[day]:,.2f})"
    if status == SUSPECT:
        return SUSPECT, _with_reading(note, _reading_note(check.says(day, apart), apart))
    if apart is None or agrees:
        return None
    return SUSPECT, _reading_note(check.says(day, apart), apart)


def _reading_note(reading: str, apart: float | None) -> str:
    return reading if apart is None else f"{reading}{SECOND_SOURCE_HOLDS}"


def _with_reading(note: str, reading: str) -> str:
    """A held bar's own note (why the move checks held it) followed by the second source's
    latest reading; a note that was the second source's alone is replaced."""
    own = "" if note.startswith(SECOND_SOURCE_READING[2:]) else note
    own = own.split(SECOND_SOURCE_READING)[0]
    return f"{own}; {reading}" if own else reading  # `; second source ...`: the separator


def check_refresh(db: Store, settings: Settings, report: RefreshReport) -> None:
    """Cross-check the symbols a refresh stored, when a second source is configured; what it
    holds, confirms or could not check becomes warning lines of the report's symbols."""
    pairs = parse_pairs(settings.second_source)
    if not pairs:
        return
    stored = [item.symbol for item in report.symbols if item.error is None]
    tolerance = settings.second_source_tolerance_pct
    checked = cross_check(db, settings_fetch(settings), pairs, stored, tolerance)
    for item in report.symbols:
        item.warnings += [describe(c) for c in checked.changes if c.name == item.symbol]
        if item.symbol in checked.failures:
            item.warnings.append(f"{item.symbol}: {checked.failures[item.symbol]}")

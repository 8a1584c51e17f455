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
from bot.sources.quality import StatusChange, describe
from bot.sources.refresh import RefreshReport
from bot.sources.stooq import StooqSource
from signals.quality import ACCEPTED, CONFIRMED, REJECTED, SUSPECT
from storage.db import Store
from storage.prices import load_for_review, set_statuses

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
        try:
            theirs = fetch(pairs[symbol], recent.index[0].date())
        except SourceError as error:
            result.failures[symbol] = f"second source {source_label(pairs[symbol])}: {error}"
            continue
        marks = _marks(symbol, pairs[symbol], recent, theirs, tolerance_pct)
        if marks:
            set_statuses(db, symbol, [(day, new, note) for day, _, new, note in marks])
        result.changes += [StatusChange(symbol, d, old, new, note) for d, old, new, note in marks]
    return result


def _marks(
    symbol: str,
    other_id: str,
    recent: pd.DataFrame,
    theirs: dict[date, float],
    tolerance_pct: float,
) -> list[tuple[date, str, str, str]]:
    """(date, old status, new status, note) for each close the second source decides."""
    marks, label = [], source_label(other_id)
    for stamp, row in recent.iterrows():
        day, status, close = stamp.date(), str(row["status"]), row["close"]
        other = theirs.get(day)
        if other is None or status in (ACCEPTED, REJECTED) or not close or not other:
            continue
        apart = (close / other - 1.0) * 100.0
        if abs(apart) > tolerance_pct and status != SUSPECT:
            note = (
                f"second source {label} has {other:,.2f} on {day} ({apart:+.1f} % "
                f"apart): held until they agree or a person accepts it"
            )
            marks.append((day, status, SUSPECT, note))
        elif abs(apart) <= tolerance_pct and status == SUSPECT:
            note = f"confirmed by the second source ({label} {other:,.2f})"
            marks.append((day, status, CONFIRMED, note))
    return marks


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

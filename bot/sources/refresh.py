"""Refresh the price cache incrementally from a `PriceSource`, and P/E snapshots.

Each symbol is fetched from its last cached final session minus a few sessions of overlap, so
revised bars are picked up. When an overlapping bar's Close or Adj Close differs from the
cached one, the source has re-based the history (a split, or a dividend that rescales every
earlier Adj Close): the symbol is then fetched again from its first cached date so the whole
cached history stays on one adjustment basis. A symbol that failed writes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

import pandas as pd

from bot import calendar as nyse
from bot.sources.bar_checks import WEEKDAY_SYMBOLS, screen_bars
from bot.sources.base import FetchResult, PriceSource
from bot.sources.identity import refuse_strangers
from bot.sources.quality import DEFAULT_CONFIG, describe, notable, review_prices
from signals.holes import HOLE_TOLERANCE, Hole, find_holes
from signals.models import PriceBar, SeriesPoint
from signals.quality import SUSPECT, QualityConfig
from storage.db import Store
from storage.prices import (
    date_gaps,
    first_dates,
    flagged_bars,
    last_dates,
    load_prices,
    upsert_bars,
)
from storage.series import upsert_points

# Relative difference above which a re-served bar counts as re-based, not float noise.
REBASE_TOLERANCE = 1e-6
# A response with more than this share of weekend dates (and at least SHIFTED_MIN_BARS bars)
# has its stamps shifted by a time zone: one session in five becomes a Sunday.
SHIFTED_SHARE = 0.1
SHIFTED_MIN_BARS = 10


@dataclass
class SymbolRefresh:
    """What one symbol's refresh did."""

    symbol: str
    start: date
    fetched: int = 0
    changed: int = 0
    last_date: date | None = None
    provisional: bool = False
    rebased: bool = False
    holes: list[str] = field(default_factory=list)  # holes in the cache this fetch back-fills
    error: str | None = None
    warnings: list[str] = field(default_factory=list)  # bars dropped or held back as suspect
    up_to_date: bool = False  # nothing to ask the source for: no request was made


@dataclass
class RefreshReport:
    """Per-symbol outcome of one refresh, in the order the symbols were asked for."""

    symbols: list[SymbolRefresh] = field(default_factory=list)

    @property
    def failures(self) -> dict[str, str]:
        """Reason per symbol that failed."""
        return {s.symbol: s.error for s in self.symbols if s.error is not None}

    @property
    def rows_changed(self) -> int:
        """Rows inserted or updated, all symbols together."""
        return sum(s.changed for s in self.symbols)

    @property
    def ok(self) -> bool:
        """True when every symbol refreshed."""
        return not self.failures


class ValuationSource(Protocol):
    """A source of trailing P/E snapshots (YahooSource)."""

    def fetch_trailing_pe(
        self, symbols: Iterable[str], failures: dict[str, str] | None = None
    ) -> list[SeriesPoint]:
        """Points `pe:<SYMBOL>`; reasons for symbols without one go into `failures`."""
        ...


@dataclass
class PeRefresh:
    """P/E snapshots stored by `refresh_pe`."""

    points: list[SeriesPoint]
    changed: int
    failures: dict[str, str]


def refresh_prices(
    db: Store,
    source: PriceSource,
    symbols: Sequence[str],
    *,
    history_start: date,
    overlap_sessions: int,
    today: date,
    quality: QualityConfig = DEFAULT_CONFIG,
    weekday_symbols: Sequence[str] = WEEKDAY_SYMBOLS,
    now: datetime | None = None,
) -> RefreshReport:
    """Fetch what is missing (plus overlap) for each symbol and upsert it in one transaction.

    With `now`, a symbol whose last final bar is already the expected session, with no suspect
    bar or hole to fetch again, is not asked for at all. Every other symbol is one request from
    the earliest of: its overlap, its oldest suspect bar, its first hole.
    Bars no source may store (off the calendar, future, impossible values) are dropped with one
    warning per symbol; the symbols stored are then judged again by the quality checks.
    """
    starts = refetch_suspects(db, plan_starts(db, symbols, history_start, overlap_sessions, today))
    holes = cached_holes(db, symbols)
    for symbol, found in holes.items():
        starts[symbol] = min(starts[symbol], found[0].first_missing)  # fetch the hole again
    current = up_to_date_symbols(db, symbols, holes, now)
    result = source.fetch({s: day for s, day in starts.items() if s not in current})
    dropped = drop_unstorable(result, today, weekday_symbols)
    rebased = refetch_rebased(db, source, result)
    # The refetched history is a new response: the same screen as every other bar.
    dropped.update(drop_unstorable(result, today, weekday_symbols, only=rebased))
    refuse_strangers(db, result, quality.links)  # another symbol's prices: nothing stored
    report = RefreshReport([SymbolRefresh(symbol, starts[symbol]) for symbol in symbols])
    for item in report.symbols:
        item.holes = [hole.describe() for hole in holes.get(item.symbol, [])]
    with db.atomic():
        for item in report.symbols:
            item.up_to_date = item.symbol in current
            if item.up_to_date:
                continue
            _store_symbol(db, item, result, rebased)
            if item.error is None:  # a symbol with nothing storable says so in its error
                item.warnings.extend(dropped.get(item.symbol, []))
            item.warnings.extend(f"{item.symbol} {n}" for n in result.notes.get(item.symbol, []))
    _note_suspects(report, review_bars(db, result, quality))
    return report


def settled_session(now: datetime) -> date | None:
    """The session a current symbol's last final bar is, or None while a session trades.

    During a session every symbol is worth asking for: its provisional bar is news.
    """
    done = nyse.last_completed_session(now)
    today = nyse.session_on_or_before(nyse.new_york_date(now))
    return done if today == done or nyse.session_open(today) > now else None


def up_to_date_symbols(
    db: Store, symbols: Sequence[str], holes: dict[str, list[Hole]], now: datetime | None
) -> set[str]:
    """Symbols with nothing to fetch: last final bar on the settled session, no suspect, no hole.

    Without `now` every symbol is fetched (and re-fetching the overlap catches revisions).
    """
    settled = settled_session(now) if now is not None else None
    if settled is None:
        return set()
    cached = last_dates(db, final_only=True)
    refetch = {str(row["symbol"]) for row in flagged_bars(db, [SUSPECT])} | set(holes)
    return {
        symbol
        for symbol in symbols
        if cached.get(symbol, date.min) >= settled and symbol not in refetch
    }


def review_bars(db: Store, result: FetchResult, quality: QualityConfig) -> list:
    """Judge again the bars just stored (from the session before the earliest one)."""
    if not result.bars:
        return []
    first = min(bars[0].date for bars in result.bars.values())
    return review_prices(db, list(result.bars), quality, since=first - timedelta(days=7))


def refetch_suspects(db: Store, starts: dict[str, date]) -> dict[str, date]:
    """Start early enough to fetch every suspect bar again: the source may have corrected it."""
    for row in flagged_bars(db, [SUSPECT]):
        symbol, day = str(row["symbol"]), date.fromisoformat(str(row["date"]))
        if symbol in starts:
            starts[symbol] = min(starts[symbol], day)
    return starts


def drop_unstorable(
    result: FetchResult,
    today: date,
    weekdays: Sequence[str],
    only: Collection[str] | None = None,
) -> dict[str, list]:
    """Remove bars that may never be stored; one warning line per symbol that lost some.

    A response whose dates are mostly off the calendar (stamps shifted by a time zone) is
    refused whole: the rest of its dates cannot be trusted either. `only` limits the screen
    to some symbols (the ones just fetched again).
    """
    warnings: dict[str, list[str]] = {}
    for symbol, bars in list(result.bars.items()):
        if only is not None and symbol not in only:
            continue
        shifted = shifted_dates(symbol, bars, weekdays)
        if shifted is not None:
            del result.bars[symbol]
            result.failures[symbol] = shifted
            continue
        screened = screen_bars(bars, today, weekdays)
        line = screened.warning(symbol)
        if line is not None:
            warnings[symbol] = [line]
        if screened.bars:
            result.bars[symbol] = screened.bars
        else:
            del result.bars[symbol]
            result.failures[symbol] = f"no storable bars ({line})"
    return warnings


def shifted_dates(symbol: str, bars: Sequence[PriceBar], weekdays: Sequence[str]) -> str | None:
    """Why a response's dates look shifted by a time zone (many weekend bars), or None.

    A bad bar or two on a weekend is dropped alone; when more than `SHIFTED_SHARE` of a
    response falls on weekends, every date in it is a day off (midnight-UTC stamps read in
    New York), so storing its weekday bars would move every close to the session before.
    """
    if symbol in weekdays or len(bars) < SHIFTED_MIN_BARS:
        return None
    weekend = sum(bar.date.weekday() >= 5 for bar in bars)
    if weekend <= SHIFTED_SHARE * len(bars):
        return None
    return (
        f"refused {len(bars)} bars: {weekend:,} fall on a weekend, so the dates look shifted "
        f"by a time zone (first {bars[0].date}); nothing stored"
    )


def _note_suspects(report: RefreshReport, changes: list) -> None:
    names = [item.symbol for item in report.symbols]
    for change in notable(names, changes):
        item = next(i for i in report.symbols if i.symbol == change.name)
        item.warnings.append(describe(change))


def plan_starts(
    db: Store, symbols: Sequence[str], history_start: date, overlap: int, today: date
) -> dict[str, date]:
    """Start date per symbol: last cached final session minus `overlap` sessions."""
    cached = last_dates(db, final_only=True)
    starts = {}
    for symbol in symbols:
        start = sessions_before(cached[symbol], overlap) if symbol in cached else history_start
        starts[symbol] = min(start, today)
    return starts


def cached_holes(db: Store, symbols: Sequence[str]) -> dict[str, list[Hole]]:
    """Per symbol, the runs of NYSE sessions missing between its cached final bars, oldest first.

    Only gaps long enough to hide more than `HOLE_TOLERANCE` sessions are looked at, and only
    inside the calendar's range (before 1990 nothing says which days were sessions).
    """
    wanted = set(symbols)
    found: dict[str, list[Hole]] = {}
    for symbol, after, before in date_gaps(db, HOLE_TOLERANCE + 1):
        if symbol not in wanted or after < nyse.CALENDAR_START:
            continue
        sessions = pd.DatetimeIndex([pd.Timestamp(d) for d in nyse.sessions_between(after, before)])
        dates = pd.DatetimeIndex([pd.Timestamp(after), pd.Timestamp(before)])
        found.setdefault(symbol, []).extend(find_holes(dates, sessions, symbol))
    return {
        symbol: sorted(holes, key=lambda h: h.after) for symbol, holes in found.items() if holes
    }


def sessions_before(day: date, count: int) -> date:
    """The NYSE session `count` sessions before the session on or before `day`."""
    try:
        session = nyse.session_on_or_before(day)
        for _ in range(count):
            session = nyse.previous_session(session)
    except nyse.CalendarRangeError:
        return day - timedelta(days=count * 7 // 5 + 4)  # before 1990: weekdays are close enough
    return session


def refetch_rebased(db: Store, source: PriceSource, result: FetchResult) -> set[str]:
    """Fetch again from the first cached date every symbol whose history was re-based."""
    rebased = set()
    for symbol, bars in result.bars.items():
        cached = load_prices(db, [symbol], start=min(bar.date for bar in bars)).get(symbol)
        if cached is not None and is_rebased(bars, cached):
            rebased.add(symbol)
    if not rebased:
        return set()
    firsts = {symbol: day for symbol, day in first_dates(db).items() if symbol in rebased}
    again = source.fetch(firsts)
    for symbol in firsts:
        # Another symbol's closes look like a new basis too: `refuse_strangers` judges the
        # refetched history against the stored one, as it judges every answer.
        if symbol in again.bars:
            result.bars[symbol] = again.bars[symbol]
            continue
        del result.bars[symbol]  # never store overlap bars on a basis the history lacks
        reason = again.failures.get(symbol, "no bars")
        result.failures[symbol] = f"history was re-based but the full refetch failed: {reason}"
    return set(firsts)


def is_rebased(bars: Iterable[PriceBar], cached: pd.DataFrame) -> bool:
    """True when a re-served final bar's Close or Adj Close moved beyond float noise."""
    stored = cached[cached["final"]]
    for bar in bars:
        stamp = pd.Timestamp(bar.date)
        if stamp not in stored.index:
            continue
        row = stored.loc[stamp]
        if _moved(bar.close, row["close"]) or _moved(bar.adj_close, row["adj_close"]):
            return True
    return False


def _moved(new: float | None, old: float) -> bool:
    if new is None or old is None or math.isnan(old) or math.isnan(new) or old == 0:
        return False
    return abs(new / old - 1) > REBASE_TOLERANCE


def _store_symbol(db: Store, item: SymbolRefresh, result: FetchResult, rebased: set[str]) -> None:
    bars = result.bars.get(item.symbol)
    if not bars:
        item.error = result.failures.get(item.symbol, "no bars returned")
        return
    item.fetched = len(bars)
    item.changed = upsert_bars(db, bars)
    item.last_date = bars[-1].date
    item.provisional = not bars[-1].final
    item.rebased = item.symbol in rebased


def refresh_pe(db: Store, source: ValuationSource, symbols: Sequence[str]) -> PeRefresh:
    """Fetch trailing P/E snapshots (`pe:<SYMBOL>`) and store them as series points."""
    failures: dict[str, str] = {}
    points = source.fetch_trailing_pe(symbols, failures=failures)
    changed = upsert_points(db, points) if points else 0
    return PeRefresh(points, changed, failures)

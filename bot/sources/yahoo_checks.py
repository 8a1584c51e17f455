"""Judging what Yahoo delivered: provisional bars, why a symbol is empty, stuck feeds."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from bot import calendar as nyse
from bot.sources.base import FetchResult
from signals.models import PriceBar

# A symbol whose last bar lags the batch's newest by more than this many sessions is reported:
# one session of lag is normal (bond-market holidays for ^IRX/^TNX), a week is a stuck feed.
STALE_SESSIONS = 3
# A last trade this close to the bell is the close: a thinly traded fund's final print may come
# a minute or two early, and holding it would delay its every close by a day.
PARTIAL_GRACE = timedelta(minutes=5)


def is_provisional(day: date, now: datetime) -> bool:
    """True while the NYSE session of `day` has not closed at `now` (a bar still trading)."""
    today = nyse.new_york_date(now)
    if day != today:
        return day > today
    try:
        return nyse.is_session(day) and now < nyse.session_close(day)
    except nyse.CalendarRangeError:
        return False


def snapshot_time(meta: Mapping[str, object] | None) -> datetime | None:
    """When Yahoo took the chart's latest price (`meta.regularMarketTime`), if it says."""
    value = (meta or {}).get("regularMarketTime")
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(value):
        return datetime.fromtimestamp(value, UTC)
    to_datetime = getattr(value, "to_pydatetime", None)  # yfinance formats it as a Timestamp
    return to_datetime() if callable(to_datetime) else None


def hold_partial_session(
    bars: list[PriceBar], taken: datetime | None
) -> tuple[list[PriceBar], str | None]:
    """The last bar made provisional when Yahoo took it before its session closed.

    The clock alone cannot tell: a response cached or delayed upstream is fetched after the
    close but still holds an intraday snapshot, and storing it as final fires a rule on a
    close that never happened. Returns the bars and a note when one was held.
    """
    if not bars or taken is None or not bars[-1].final:
        return bars, None
    last = bars[-1]
    if nyse.new_york_date(taken) != last.date:
        return bars, None
    try:
        close = nyse.session_close(last.date)
    except (nyse.CalendarRangeError, ValueError):  # not a session: the bar screen refuses it
        return bars, None
    if taken >= close - PARTIAL_GRACE:
        return bars, None
    at, closes = (t.astimezone(nyse.NEW_YORK).strftime("%H:%M") for t in (taken, close))
    note = (
        f"{last.date}: Yahoo's last bar was taken at {at} New York, before the {closes} "
        "close (a partial session); kept provisional until the close arrives"
    )
    return [*bars[:-1], replace(last, final=False)], note


def last_opened_session(now: datetime) -> date:
    """The latest NYSE session that has opened by `now` (today once the bell has rung)."""
    day = nyse.session_on_or_before(nyse.new_york_date(now))
    return day if nyse.session_open(day) <= now else nyse.previous_session(day)


def flag_stale(result: FetchResult, slack: int = STALE_SESSIONS) -> None:
    """Turn a symbol whose bars stop well before the others' into a failure (a stuck feed)."""
    if len(result.bars) < 2:
        return
    newest = max(bars[-1].date for bars in result.bars.values())
    for symbol, bars in list(result.bars.items()):
        last = bars[-1].date
        if _sessions_apart(last, newest) > slack:
            del result.bars[symbol]
            result.failures[symbol] = (
                f"partial result: Yahoo's bars stop at {last}, other symbols reach {newest}"
            )


def _sessions_apart(older: date, newer: date) -> int:
    try:
        return len(nyse.sessions_between(older, newer)) - 1
    except nyse.CalendarRangeError:
        return (newer - older).days * 5 // 7


def explain_empty(symbol: str, start: date, outcome: int | str | None) -> tuple[str, bool]:
    """Why a symbol delivered no bars, and whether trying again may help."""
    if isinstance(outcome, str):
        return f"cannot reach Yahoo Finance ({outcome})", True
    if outcome == 429:
        return "rate limited by Yahoo (HTTP 429)", True
    if outcome is not None and outcome >= 500:
        return f"Yahoo server error (HTTP {outcome})", True
    if outcome == 404:
        return f"unknown symbol: Yahoo has no data for {symbol} (HTTP 404)", False
    if outcome is not None and outcome >= 400:
        return f"Yahoo refused the request (HTTP {outcome})", False
    if outcome is None:
        return "no response from Yahoo for this symbol", False
    return f"empty result: Yahoo returned no bars since {start.isoformat()}", False


def resolve_repeats(
    bars: list[PriceBar], copies: dict[date, list[dict[str, float]]]
) -> tuple[list[PriceBar], list[str]]:
    """Each day Yahoo sent twice gets the copy nearest its neighbours' closes, never simply the
    first; a repeated day with no neighbour to compare is dropped. Notes say what was done."""
    kept: list[PriceBar] = []
    notes: list[str] = []
    for index, bar in enumerate(bars):
        candidates = copies.get(bar.date)
        if not candidates:
            kept.append(bar)
            continue
        near = [_level(b) for b in (*bars[index - 1 : index][:1], *bars[index + 1 : index + 2])]
        near = [value for value in near if value is not None]
        if not near:
            notes.append(
                f"{bar.date}: {len(candidates)} different copies, none to compare; dropped"
            )
            continue
        best = min(candidates, key=lambda copy: _distance(copy, near))
        kept.append(replace(bar, **{k: best.get(k) for k in _FIELDS}))
        level = best.get("close", best.get("adj_close"))
        notes.append(f"{bar.date}: {len(candidates)} copies sent; kept the one at {level:g}")
    return kept, notes


_FIELDS = ("open", "high", "low", "close", "adj_close", "volume")


def _level(bar: PriceBar) -> float | None:
    value = bar.close if bar.close is not None else bar.adj_close
    return value if value is not None and value > 0 and math.isfinite(value) else None


def _distance(copy: dict[str, float], near: list[float]) -> float:
    value = copy.get("close", copy.get("adj_close"))
    if value is None or value <= 0:
        return math.inf
    return sum(abs(math.log(value / other)) for other in near)

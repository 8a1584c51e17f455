"""Judging what Yahoo delivered: provisional bars, why a symbol is empty, stuck feeds."""

from __future__ import annotations

from datetime import date, datetime

from bot import calendar as nyse
from bot.sources.base import FetchResult

# A symbol whose last bar lags the batch's newest by more than this many sessions is reported:
# one session of lag is normal (bond-market holidays for ^IRX/^TNX), a week is a stuck feed.
STALE_SESSIONS = 3


def is_provisional(day: date, now: datetime) -> bool:
    """True while the NYSE session of `day` has not closed at `now` (a bar still trading)."""
    today = nyse.new_york_date(now)
    if day != today:
        return day > today
    try:
        return nyse.is_session(day) and now < nyse.session_close(day)
    except nyse.CalendarRangeError:
        return False


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

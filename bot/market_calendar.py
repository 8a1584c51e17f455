"""NYSE sessions (exchange_calendars XNYS): which bar is still provisional, session arithmetic."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import pandas as pd
from exchange_calendars import ExchangeCalendar
from exchange_calendars import errors as xerrors

NEW_YORK = ZoneInfo("America/New_York")


@lru_cache(maxsize=1)
def xnys() -> ExchangeCalendar:
    """The NYSE calendar, built once per process (building it takes ~0.5 s)."""
    with warnings.catch_warnings():
        # exchange_calendars trips pandas' own deprecation warnings while building; not ours.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return xcals.get_calendar("XNYS")


def utc_now() -> datetime:
    """The real clock; callers take a `clock` argument so tests can replace it."""
    return datetime.now(UTC)


def new_york_date(moment: datetime) -> date:
    """The calendar date in New York at `moment` (an aware datetime)."""
    return moment.astimezone(NEW_YORK).date()


def _in_bounds(day: date) -> bool:
    calendar = xnys()
    return calendar.first_session.date() <= day <= calendar.last_session.date()


def is_provisional(day: date, now: datetime) -> bool:
    """True while the session of `day` has not closed yet at `now` (a bar still trading)."""
    today = new_york_date(now)
    if day != today:
        return day > today
    if not _in_bounds(day) or not xnys().is_session(pd.Timestamp(day)):
        return False  # no NYSE session today (weekend, holiday): nothing is trading
    return now < xnys().session_close(pd.Timestamp(day)).to_pydatetime()


def sessions_before(day: date, count: int) -> date:
    """The NYSE session `count` sessions before the session on or before `day`."""
    if count <= 0:
        return day
    if not _in_bounds(day):
        return day - timedelta(days=count * 7 // 5 + 4)  # outside the calendar: weekdays suffice
    calendar = xnys()
    session = calendar.date_to_session(pd.Timestamp(day), direction="previous")
    try:
        return calendar.session_offset(session, -count).date()
    except (ValueError, IndexError, xerrors.RequestedSessionOutOfBounds, xerrors.DateOutOfBounds):
        return day - timedelta(days=count * 7 // 5 + 4)


def last_session(now: datetime) -> date:
    """The latest NYSE session that has opened by `now` (today once the bell has rung)."""
    today = new_york_date(now)
    if not _in_bounds(today):
        return today
    calendar = xnys()
    session = calendar.date_to_session(pd.Timestamp(today), direction="previous")
    if session.date() == today and now < calendar.session_open(session).to_pydatetime():
        session = calendar.previous_session(session)
    return session.date()

"""NYSE sessions (exchange_calendars XNYS): opens, closes, holidays and early closes.

The calendar is built once, on first use, into plain Python lists and dicts so that every
later question ("is this a session?", "when does it close?") is a dictionary lookup or a
bisection, fast enough to call thousands of times while planning a replay.
"""

from __future__ import annotations

import bisect
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
CALENDAR_START = date(1990, 1, 1)
# exchange_calendars computes holidays from rules; two years ahead covers any realistic clock.
YEARS_AHEAD = 2


class CalendarRangeError(ValueError):
    """A date outside the range the calendar was built for."""


@dataclass(frozen=True)
class _Sessions:
    days: list[date]
    hours: dict[date, tuple[datetime, datetime]]  # session -> (open, close), aware UTC


@cache
def _sessions() -> _Sessions:
    # Imported here: exchange_calendars pulls in pandas, which `--help` must not pay for.
    import exchange_calendars

    end = date(datetime.now(UTC).year + YEARS_AHEAD, 12, 31)
    with warnings.catch_warnings():
        # exchange_calendars itself trips a pandas 3.1 deprecation; nothing for us to fix.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        calendar = exchange_calendars.get_calendar("XNYS", start=CALENDAR_START, end=end)
    schedule = calendar.schedule
    hours = {
        label.date(): (opened.to_pydatetime(), closed.to_pydatetime())
        for label, opened, closed in zip(
            schedule.index, schedule["open"], schedule["close"], strict=True
        )
    }
    return _Sessions(days=sorted(hours), hours=hours)


@cache
def session_days() -> frozenset[date]:
    """Every NYSE session the calendar knows, for set arithmetic over many dates."""
    return frozenset(_sessions().hours)


def _check_range(day: date) -> None:
    days = _sessions().days
    if not days[0] - timedelta(days=7) <= day <= days[-1]:
        raise CalendarRangeError(
            f"{day} is outside the NYSE calendar range {days[0]} to {days[-1]}"
        )


def is_session(day: date) -> bool:
    """True when the NYSE trades on `day`."""
    _check_range(day)
    return day in _sessions().hours


def session_open(day: date) -> datetime:
    """Open of the session `day`, aware UTC; raises ValueError when it is not a session."""
    return _hours(day)[0]


def session_close(day: date) -> datetime:
    """Close of the session `day` (13:00 New York on early closes), aware UTC."""
    return _hours(day)[1]


def _hours(day: date) -> tuple[datetime, datetime]:
    if not is_session(day):
        raise ValueError(f"{day} is not an NYSE session")
    return _sessions().hours[day]


def sessions_between(start: date, end: date) -> list[date]:
    """Sessions from `start` to `end`, both inclusive, oldest first."""
    _check_range(start)
    _check_range(end)
    days = _sessions().days
    return days[bisect.bisect_left(days, start) : bisect.bisect_right(days, end)]


def session_on_or_before(day: date) -> date:
    """`day` itself when it is a session, else the session before it."""
    _check_range(day)
    days = _sessions().days
    index = bisect.bisect_right(days, day) - 1
    if index < 0:
        raise CalendarRangeError(f"no NYSE session on or before {day} in the calendar")
    return days[index]


def previous_session(day: date) -> date:
    """The last session strictly before `day`."""
    return session_on_or_before(day - timedelta(days=1))


def new_york_date(moment: datetime) -> date:
    """The calendar date in New York at the aware instant `moment`."""
    return moment.astimezone(NEW_YORK).date()


def last_completed_session(now: datetime, delay: timedelta = timedelta(0)) -> date:
    """The latest session whose close (plus `delay`) is at or before the aware instant `now`."""
    day = session_on_or_before(new_york_date(now))
    while session_close(day) + delay > now:
        day = previous_session(day)
    return day


def at_new_york(day: date, clock_time: time) -> datetime:
    """The aware UTC instant of `clock_time` in New York on `day` (DST handled by zoneinfo)."""
    return datetime.combine(day, clock_time, tzinfo=NEW_YORK).astimezone(UTC)

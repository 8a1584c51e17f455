"""NYSE sessions (the XNYS rules of exchange_calendars): opens, closes, holidays, early closes.

The calendar is built once, on first use, into plain Python lists and dicts so that every
later question ("is this a session?", "when does it close?") is a dictionary lookup or a
bisection, fast enough to call thousands of times while planning a replay. It is built from
the exchange's rules in plain Python (`bot/nyse_rules.py`, checked session by session against
exchange_calendars, which cost a new database 0.2 s more); once `cache_beside(db_path)` names
the database, the sessions are kept in a JSON file beside it and read back at every later
start; the file is rebuilt when the rules, the exchange_calendars version or the range change.
With an exchange_calendars release the rules were not checked against, exchange_calendars
builds the calendar itself (slower, never behind a closure it knows).
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.light_imports import installed_version
from bot.nyse_rules import RULES_VERSION, VERIFIED_WITH, nyse_hours

log = logging.getLogger(__name__)

NEW_YORK = ZoneInfo("America/New_York")
CALENDAR_START = date(1990, 1, 1)
# The holidays follow rules; two years ahead covers any realistic clock.
YEARS_AHEAD = 2


class CalendarRangeError(ValueError):
    """A date outside the range the calendar was built for."""


@dataclass(frozen=True)
class _Sessions:
    days: list[date]
    hours: dict[date, tuple[datetime, datetime]]  # session -> (open, close), aware UTC


_CACHE_FILE: list[Path] = []  # where the sessions are kept, once a database is named


def cache_beside(db_path: Path) -> None:
    """Keep the computed sessions in `<database>.nyse-sessions.json` beside the database."""
    _CACHE_FILE[:] = [db_path.with_name(f"{db_path.name}.nyse-sessions.json")]


@cache
def _sessions() -> _Sessions:
    end = date(datetime.now(UTC).year + YEARS_AHEAD, 12, 31)
    stamp = {
        "exchange_calendars": installed_version("exchange_calendars"),
        "rules": RULES_VERSION,
        "end": str(end),
    }
    kept = _read_cache(stamp)
    if kept is not None:
        return kept
    sessions = _build(end)
    _write_cache(stamp, sessions)
    return sessions


def _read_cache(stamp: dict[str, str]) -> _Sessions | None:
    """The cached sessions when the file exists and was built for `stamp`, else None."""
    if not _CACHE_FILE or not _CACHE_FILE[0].exists():
        return None
    try:
        data = json.loads(_CACHE_FILE[0].read_text(encoding="utf-8"))
        if data.get("stamp") != stamp:
            return None
        hours = {
            date.fromisoformat(day): (
                datetime.fromisoformat(opened),
                datetime.fromisoformat(closed),
            )
            for day, opened, closed in data["sessions"]
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        log.warning("NYSE calendar cache %s unreadable (%s): rebuilding it", _CACHE_FILE[0], error)
        return None
    return _Sessions(days=sorted(hours), hours=hours)


def _write_cache(stamp: dict[str, str], sessions: _Sessions) -> None:
    """Write the cache file whole (a reader never sees half of it); a failure is logged."""
    if not _CACHE_FILE or not _CACHE_FILE[0].parent.is_dir():
        return
    path = _CACHE_FILE[0]
    rows = [
        [day.isoformat(), *(t.isoformat() for t in sessions.hours[day])] for day in sessions.days
    ]
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        partial.write_text(json.dumps({"stamp": stamp, "sessions": rows}), encoding="utf-8")
        os.replace(partial, path)
    except OSError as error:
        log.warning("cannot keep the NYSE calendar in %s: %s", path, error)
        partial.unlink(missing_ok=True)


def _build(end: date) -> _Sessions:
    if not rules_verified_for(installed_version("exchange_calendars")):
        return _build_from_exchange_calendars(end)
    hours = nyse_hours(CALENDAR_START, end)
    return _Sessions(days=list(hours), hours=hours)


def rules_verified_for(exchange_calendars_version: str | None) -> bool:
    """True when the plain-Python rules were checked against this exchange_calendars
    release; any other release (or none found) is trusted to know better."""
    return exchange_calendars_version == VERIFIED_WITH


def _build_from_exchange_calendars(end: date) -> _Sessions:
    # Imported here: exchange_calendars pulls in pandas, which `--help` must not pay for.
    import exchange_calendars

    with warnings.catch_warnings():
        # exchange_calendars itself trips a pandas 3.1 deprecation; nothing for us to fix.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        calendar = exchange_calendars.get_calendar("XNYS", start=CALENDAR_START, end=end)
    schedule = calendar.schedule
    opens = list(schedule["open"].dt.to_pydatetime())
    closes = list(schedule["close"].dt.to_pydatetime())
    hours = dict(zip(schedule.index.date, zip(opens, closes, strict=True), strict=True))
    return _Sessions(days=sorted(hours), hours=hours)


@cache
def session_days() -> frozenset[date]:
    """Every NYSE session the calendar knows, for set arithmetic over many dates."""
    return frozenset(_sessions().hours)


def sessions_in_order() -> list[date]:
    """Every NYSE session the calendar knows, oldest first (a copy)."""
    return list(_sessions().days)


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

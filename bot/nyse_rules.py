"""NYSE sessions from the exchange's own rules, in plain Python (no pandas, no dateutil).

The same sessions, opens and closes as exchange_calendars' XNYS from 1990 on, which states
these rules (its `exchange_calendar_xnys.py` and `us_holidays.py`); building XNYS costs a new
database about 0.2 s of CPU (its import, then pandas' holiday rules over every year since
1885), these rules a few milliseconds. `tests/bot/test_nyse_rules.py` compares both, session
by session, from 1990 to 2028: a new closure in an exchange_calendars release fails it, and
then belongs in `_CLOSED` (bump `RULES_VERSION` so every cached calendar is rebuilt).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
FIRST_YEAR = 1990
# Part of the calendar cache's stamp: a change to these rules rebuilds every cached calendar.
RULES_VERSION = "1"
# The exchange_calendars release these rules were checked against. With any other release
# installed, the calendar is built by exchange_calendars itself: a closure a newer release
# knows (a day of mourning) must not be missed because these rules predate it.
VERIFIED_WITH = "4.13.2"
_OPEN = time(9, 30)
_FULL = timedelta(hours=6, minutes=30)  # to 16:00; no session is on a day the clocks change
_MONDAY, _TUESDAY, _WEDNESDAY, _THURSDAY, _FRIDAY = range(5)

# Closures for an event (a president's funeral, September 11, Hurricane Sandy), since 1990.
_CLOSED = frozenset(
    date.fromisoformat(day)
    for day in (
        "1994-04-27",
        "2001-09-11",
        "2001-09-12",
        "2001-09-13",
        "2001-09-14",
        "2004-06-11",
        "2007-01-02",
        "2012-10-29",
        "2012-10-30",
        "2018-12-05",
        "2025-01-09",
    )
)
# Early closes decided once (Christmas and New Year's weekends), at the 13:00 of their time.
_EARLY_ONCE = frozenset(date.fromisoformat(d) for d in ("1997-12-26", "1999-12-31", "2003-12-26"))


def nyse_hours(start: date, end: date) -> dict[date, tuple[datetime, datetime]]:
    """Every session from `start` to `end` (both inclusive), oldest first: (open, close),
    aware UTC, with the early closes. `start` must not be before 1990."""
    if start.year < FIRST_YEAR:
        raise ValueError(f"the NYSE rules here start in {FIRST_YEAR}, not {start.year}")
    hours: dict[date, tuple[datetime, datetime]] = {}
    for year in range(start.year, end.year + 1):
        closed, early = holidays(year), early_closes(year)
        day = date(year, 1, 1)
        while day.year == year and day <= end:
            if day >= start and day.weekday() < 5 and day not in closed:
                opened = datetime.combine(day, _OPEN, tzinfo=NEW_YORK).astimezone(UTC)
                hours[day] = (opened, opened + early.get(day, _FULL))
            day += timedelta(days=1)
    return hours


def holidays(year: int) -> set[date]:
    """The weekdays of `year` the NYSE is closed (holidays and closures for an event)."""
    found = {
        _good_friday(year),
        _nth_weekday(year, 2, _MONDAY, 3),  # Washington's Birthday (Presidents' Day)
        _last_monday_of_may(year),  # Memorial Day
        _nth_weekday(year, 9, _MONDAY, 1),  # Labor Day
        _nth_weekday(year, 11, _THURSDAY, 4),  # Thanksgiving
        _nearest_weekday(date(year, 7, 4)),  # Independence Day
        _nearest_weekday(date(year, 12, 25)),  # Christmas
    }
    new_year = date(year, 1, 1)
    if new_year.weekday() != 5:  # on a Saturday it is not observed (Friday Dec 31 trades)
        found.add(new_year + timedelta(days=new_year.weekday() == 6))
    if year >= 1998:
        found.add(_nth_weekday(year, 1, _MONDAY, 3))  # Martin Luther King Jr. Day
    if year >= 2022:
        found.add(_nearest_weekday(date(year, 6, 19)))  # Juneteenth
    found |= {day for day in _CLOSED if day.year == year}
    return found


def early_closes(year: int) -> dict[date, timedelta]:
    """Sessions of `year` that close early, and how long after the open (at 14:00 before 1993,
    13:00 since)."""
    july3, july5, eve = date(year, 7, 3), date(year, 7, 5), date(year, 12, 24)
    days = {_nth_weekday(year, 11, _THURSDAY, 4) + timedelta(days=1)} if year >= 1992 else set()
    if eve.weekday() <= _THURSDAY:  # on a Friday the 24th is Christmas observed: closed
        days.add(eve)
    if year >= 1995 and july3.weekday() in (_MONDAY, _TUESDAY, _THURSDAY):
        days.add(july3)
    if 1995 <= year <= 2012 and july5.weekday() == _FRIDAY:
        days.add(july5)
    if year >= 2013 and july3.weekday() == _WEDNESDAY:
        days.add(july3)
    days |= {day for day in _EARLY_ONCE if day.year == year}
    length = timedelta(hours=3, minutes=30) if year >= 1993 else timedelta(hours=4, minutes=30)
    return dict.fromkeys(days, length)


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))


def _last_monday_of_may(year: int) -> date:
    may25 = date(year, 5, 25)
    return may25 + timedelta(days=(_MONDAY - may25.weekday()) % 7)


def _nearest_weekday(day: date) -> date:
    """A Saturday holiday is observed on the Friday before, a Sunday one on the Monday after."""
    shift = {5: -1, 6: 1}.get(day.weekday(), 0)
    return day + timedelta(days=shift)


def _good_friday(year: int) -> date:
    """Two days before Western Easter (the anonymous Gregorian computus)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 (the computus' own letters)
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1) - timedelta(days=2)

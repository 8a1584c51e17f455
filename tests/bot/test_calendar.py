"""NYSE sessions: holidays, early closes, daylight saving, and the helpers built on them."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest

from bot import calendar
from bot.calendar import NEW_YORK, CalendarRangeError


def new_york(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NEW_YORK).astimezone(UTC)


def test_thanksgiving_is_a_holiday_and_the_friday_after_closes_early() -> None:
    assert not calendar.is_session(date(2025, 11, 27))
    assert calendar.session_close(date(2025, 11, 28)) == new_york("2025-11-28T13:00")
    assert calendar.session_close(date(2025, 11, 26)) == new_york("2025-11-26T16:00")


def test_closes_follow_daylight_saving_in_new_york() -> None:
    summer, winter = date(2025, 7, 1), date(2025, 12, 1)
    assert calendar.session_close(summer).hour == 20  # UTC
    assert calendar.session_close(winter).hour == 21
    assert calendar.session_open(winter).astimezone(NEW_YORK).strftime("%H:%M") == "09:30"


def test_sessions_between_skips_weekends_and_holidays() -> None:
    assert calendar.sessions_between(date(2025, 11, 22), date(2025, 11, 30)) == [
        date(2025, 11, 24),
        date(2025, 11, 25),
        date(2025, 11, 26),
        date(2025, 11, 28),
    ]
    assert calendar.sessions_between(date(2025, 11, 27), date(2025, 11, 27)) == []


def test_neighbouring_sessions() -> None:
    assert calendar.previous_session(date(2025, 12, 1)) == date(2025, 11, 28)
    assert calendar.session_on_or_before(date(2025, 11, 27)) == date(2025, 11, 26)
    assert calendar.session_on_or_before(date(2025, 11, 28)) == date(2025, 11, 28)


@pytest.mark.parametrize(
    ("now", "delay_minutes", "expected"),
    [
        ("2025-11-28T12:59", 0, date(2025, 11, 26)),
        ("2025-11-28T13:00", 0, date(2025, 11, 28)),
        ("2025-11-28T13:10", 20, date(2025, 11, 26)),
        ("2025-11-29T10:00", 0, date(2025, 11, 28)),
        ("2025-12-01T09:00", 0, date(2025, 11, 28)),
    ],
)
def test_last_completed_session(now: str, delay_minutes: int, expected: date) -> None:
    delay = timedelta(minutes=delay_minutes)
    assert calendar.last_completed_session(new_york(now), delay) == expected


def test_dates_outside_the_calendar_fail_clearly() -> None:
    with pytest.raises(CalendarRangeError, match="outside the NYSE calendar"):
        calendar.is_session(date(1950, 1, 3))
    with pytest.raises(ValueError, match="not an NYSE session"):
        calendar.session_close(date(2025, 11, 27))


def test_lookups_are_fast_once_built() -> None:
    calendar.is_session(date(2025, 1, 2))
    started = time.perf_counter()
    for offset in range(10_000):
        calendar.is_session(date(2024, 1, 1) + timedelta(days=offset % 700))
    assert time.perf_counter() - started < 0.5

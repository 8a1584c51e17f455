"""The NYSE rules in plain Python give exchange_calendars' XNYS sessions, opens and closes."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from dateutil.easter import easter

from bot import calendar
from bot.nyse_rules import NEW_YORK, _good_friday, nyse_hours


def xnys_hours(start: date, end: date) -> dict[date, tuple[datetime, datetime]]:
    from exchange_calendars.exchange_calendar_xnys import XNYSExchangeCalendar

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # exchange_calendars on pandas 3.1
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        schedule = XNYSExchangeCalendar(start=start, end=end).schedule
    opens = schedule["open"].dt.to_pydatetime()
    closes = schedule["close"].dt.to_pydatetime()
    return dict(zip(schedule.index.date, zip(opens, closes, strict=True), strict=True))


def test_every_session_open_and_close_from_1990_to_2028_is_exchange_calendars() -> None:
    ours = nyse_hours(date(1990, 1, 1), date(2028, 12, 31))
    theirs = xnys_hours(date(1990, 1, 1), date(2028, 12, 31))
    assert sorted(set(theirs) ^ set(ours)) == []  # names any session one side lacks
    assert [day for day in theirs if theirs[day] != ours[day]] == []
    assert list(ours) == sorted(ours)


def test_a_range_inside_the_years_gives_only_its_sessions() -> None:
    hours = nyse_hours(date(2024, 11, 27), date(2024, 12, 2))
    assert list(hours) == [date(2024, 11, 27), date(2024, 11, 29), date(2024, 12, 2)]
    assert hours == xnys_hours(date(2024, 11, 27), date(2024, 12, 2))


@pytest.mark.parametrize(
    ("day", "closes_at"),
    [
        ("1991-11-29", "16:00"),  # no Black Friday early close before 1992
        ("1992-11-27", "14:00"),
        ("1992-12-24", "14:00"),
        ("1996-12-24", "13:00"),
        ("2013-07-03", "13:00"),  # Wednesday before Independence Day, since 2013
        ("2019-07-05", "16:00"),  # Friday after it: a full day since 2013
        ("1996-07-05", "13:00"),
        ("1999-12-31", "13:00"),
    ],
)
def test_early_closes_by_era(day: str, closes_at: str) -> None:
    session = date.fromisoformat(day)
    _, close = nyse_hours(session, session)[session]
    assert close.astimezone(NEW_YORK).strftime("%H:%M") == closes_at


@pytest.mark.parametrize(
    "day",
    ["2005-01-03", "2010-12-31", "2022-06-20", "2021-06-18", "2001-09-14", "2025-01-09"],
)
def test_new_year_juneteenth_and_closures(day: str) -> None:
    session = date.fromisoformat(day)
    # 2005-01-03 and 2010-12-31 trade (New Year on a Saturday is not observed); 2021's
    # Juneteenth came before the exchange observed it.
    trades = day in ("2005-01-03", "2010-12-31", "2021-06-18")
    assert (session in nyse_hours(session, session)) is trades


def test_good_friday_is_two_days_before_easter() -> None:
    years = range(1583, 2400)  # the Gregorian calendar's
    assert [_good_friday(y) for y in years] == [easter(y) - timedelta(days=2) for y in years]


def test_before_1990_is_refused() -> None:
    with pytest.raises(ValueError, match="start in 1990"):
        nyse_hours(date(1989, 12, 29), date(1990, 1, 5))


def test_the_calendar_is_built_from_the_rules(tmp_path: Path) -> None:
    calendar.cache_beside(tmp_path / "rotation.db")
    calendar._sessions.cache_clear()
    try:
        end = date(datetime.now(UTC).year + calendar.YEARS_AHEAD, 12, 31)
        assert calendar._sessions().hours == nyse_hours(calendar.CALENDAR_START, end)
    finally:
        calendar._CACHE_FILE.clear()
        calendar._sessions.cache_clear()


def test_the_rules_were_checked_against_the_installed_exchange_calendars() -> None:
    # Upgrading exchange_calendars: run this file, add any new closure to `_CLOSED`, then
    # set VERIFIED_WITH (and bump RULES_VERSION when the rules changed).
    from bot.light_imports import installed_version

    assert calendar.rules_verified_for(installed_version("exchange_calendars"))


def test_another_exchange_calendars_release_builds_with_exchange_calendars() -> None:
    assert not calendar.rules_verified_for("99.0")
    assert not calendar.rules_verified_for(None)
    end = date(2026, 12, 31)
    built = calendar._build_from_exchange_calendars(end)
    assert built.hours == nyse_hours(date(1990, 1, 1), end)

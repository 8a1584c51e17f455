"""What no source may store: bars off the NYSE calendar, in the future, with impossible values."""

from __future__ import annotations

from datetime import date

import pytest

from bot.sources.bar_checks import bar_problem, date_problem, screen_bars
from signals.models import PriceBar

TODAY = date(2026, 11, 27)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 26), "2026-11-26 is not an NYSE session (market holiday)"),  # Thanksgiving
        (date(2026, 11, 28), "2026-11-28 is in the future (today is 2026-11-27)"),
        (date(2031, 1, 2), "2031-01-02 is in the future (today is 2026-11-27)"),
        (date(2026, 11, 21), "2026-11-21 is a Saturday, not a trading day"),
        (date(1987, 10, 18), "1987-10-18 is a Sunday, not a trading day"),
        (date(1987, 10, 19), None),  # before the calendar: weekdays are all we can check
        (date(2026, 11, 27), None),  # today's session (a provisional bar) is fine
    ],
)
def test_date_problem(day: date, expected: str | None) -> None:
    assert date_problem(day, TODAY) == expected


def test_weekday_symbols_skip_only_the_holiday_check() -> None:
    labor_day = PriceBar("^VIX", date(2025, 9, 1), close=16.12)
    assert bar_problem(labor_day, TODAY) is None
    assert bar_problem(PriceBar("SPY", date(2025, 9, 1), close=600.0), TODAY) is not None


def test_rates_may_be_zero_or_negative_but_prices_may_not() -> None:
    assert bar_problem(PriceBar("^IRX", date(2021, 3, 1), close=-0.02), TODAY) is None
    problem = bar_problem(PriceBar("IWM", date(2021, 3, 1), close=0.0), TODAY)
    assert problem == "close 0 is not a positive price"


def test_one_line_names_every_bar_dropped_for_a_symbol() -> None:
    bars = [
        PriceBar("IWM", date(2026, 11, 20), close=240.0),
        PriceBar("IWM", date(2026, 11, 21), close=241.0),
        PriceBar("IWM", date(2026, 11, 23), close=1e300),
        PriceBar("IWM", date(2027, 1, 4), close=242.0),
    ]
    screened = screen_bars(bars, TODAY)
    assert [bar.date for bar in screened.bars] == [date(2026, 11, 20)]
    assert screened.warning("IWM") == (
        "IWM: dropped 3 bars: 2026-11-21 is a Saturday, not a trading day; "
        "2026-11-23: close 1e+300 is absurdly large; "
        "2027-01-04 is in the future (today is 2026-11-27)"
    )

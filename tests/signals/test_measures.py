"""Windows, anchors and returns: hand-made edges and the real shared history."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from signals.legs import DataError, load_leg
from signals.measures import (
    Window,
    WindowError,
    leg_return,
    parse_window,
    return_series,
    spread,
    spread_series,
)
from signals.series_expr import UnknownSeries, resolve_series
from tests.conftest import FIXTURES
from tests.signals.builders import frame, market, read_csv_frame, series, sessions

SIGNALS = FIXTURES / "signals"


@pytest.fixture
def split_market():
    return market(
        {
            "SPLT": read_csv_frame(SIGNALS / "SPLT.csv"),
            "FLAT": read_csv_frame(SIGNALS / "FLAT.csv"),
        }
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ytd", Window("ytd", "ytd")),
        (" QTD ", Window("qtd", "qtd")),
        ("mtd", Window("mtd", "mtd")),
        ("1m", Window("months", "1m", count=1)),
        ("3m", Window("months", "3m", count=3)),
        ("6m", Window("months", "6m", count=6)),
        ("1y", Window("months", "1y", count=12)),
        ("42d", Window("sessions", "42d", count=42)),
        ("since:2024-03-01", Window("since", "since:2024-03-01", since=date(2024, 3, 1))),
    ],
)
def test_parse_window_accepts_every_form(text: str, expected: Window) -> None:
    assert parse_window(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("7q", "unknown window '7q'"),
        ("0d", "at least 1"),
        ("since:2024-13-01", "is not a date"),
        ("", "unknown window"),
        ("2y", "unknown window"),
    ],
)
def test_parse_window_rejects_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(WindowError, match=message):
        parse_window(text)


def test_ytd_starts_from_last_close_of_previous_year(split_market) -> None:
    report = spread(split_market, "SPLT", "FLAT", "ytd", date(2025, 1, 10))
    assert report.a.start == date(2024, 12, 31)
    assert report.a.end == date(2025, 1, 10)
    assert report.a.ret == pytest.approx(58 / 52 - 1)
    assert report.b.ret == pytest.approx(232 / 200 - 1)
    assert report.spread_pp == pytest.approx((58 / 52 - 232 / 200) * 100)
    assert report.spread_bps == pytest.approx(report.spread_pp * 100)


def test_first_session_of_year_after_a_holiday(split_market) -> None:
    # 2025-01-01 is a holiday: the first session is 01-02 and its YTD is one day's move.
    report = spread(split_market, "SPLT", "FLAT", "ytd", date(2025, 1, 2))
    assert (report.a.start, report.a.end) == (date(2024, 12, 31), date(2025, 1, 2))
    assert report.b.ret == pytest.approx(210 / 200 - 1)


def test_split_in_close_only_distorts_price_return_not_total(split_market) -> None:
    total = spread(split_market, "SPLT", "FLAT", "ytd", date(2025, 1, 3), basis="total")
    price = spread(split_market, "SPLT", "FLAT", "ytd", date(2025, 1, 3), basis="price")
    assert total.a.ret == pytest.approx(54 / 52 - 1)  # +3.8 %
    assert price.a.ret == pytest.approx(54 / 104 - 1)  # the split shows as -48 %


def test_missing_day_and_missing_close_use_the_last_session_before(split_market) -> None:
    # 2025-01-09 is absent: as of that day the last session is 01-08.
    report = spread(split_market, "SPLT", "FLAT", "ytd", date(2025, 1, 9))
    assert report.a.end == date(2025, 1, 8)
    # 2025-01-07 has no Close: on a price basis that day is skipped, not read as zero.
    price = load_leg(split_market, "SPLT", "close")
    assert pd.Timestamp("2025-01-07") not in price.index


def test_calendar_offset_anchors_on_or_before_the_start() -> None:
    days = ["2025-02-27", "2025-02-28", "2025-03-03", "2025-03-31"]
    prices = market({"X": frame(days, [10, 11, 12, 13])})
    values = load_leg(prices, "X")
    # 1m before 2025-03-31 is 2025-02-28 (a session): anchor exactly there.
    assert leg_return(values, parse_window("1m"), date(2025, 3, 31)).start == date(2025, 2, 28)
    # 1m before 2025-03-03 is 2025-02-03, before the first bar: history too short.
    with pytest.raises(DataError, match="too short for window 1m"):
        leg_return(values, parse_window("1m"), date(2025, 3, 3))


def test_sessions_window_counts_bars_not_days() -> None:
    days = sessions("2025-01-06", 6)
    values = load_leg(market({"X": frame(days, [1, 2, 3, 4, 5, 6])}), "X")
    result = leg_return(values, parse_window("3d"))
    assert (result.start, result.start_value, result.end_value) == (days[2], 3.0, 6.0)


def test_since_window_starts_on_or_before_the_date() -> None:
    days = ["2025-01-02", "2025-01-03", "2025-01-06", "2025-01-07"]
    values = load_leg(market({"X": frame(days, [10, 20, 30, 40])}), "X")
    result = leg_return(values, parse_window("since:2025-01-05"))
    assert result.start == date(2025, 1, 3)
    assert result.ret == pytest.approx(1.0)


@pytest.mark.parametrize("text", ["ytd", "qtd", "mtd", "1m", "3m", "1y", "5d", "since:2024-02-10"])
def test_vectorised_series_matches_the_single_value_everywhere(text: str) -> None:
    days = [d for d in pd.bdate_range("2023-11-01", "2025-03-31") if d.day % 7 != 3]
    rng = np.random.default_rng(7)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(days))))
    values = load_leg(market({"X": frame(days, closes)}), "X")
    window = parse_window(text)
    series = return_series(values, window)
    for day in days[::17]:
        expected = series.loc[day]
        try:
            single = leg_return(values, window, day.date()).ret
        except DataError:
            assert np.isnan(expected)
            continue
        assert single == pytest.approx(expected, rel=1e-12)


def test_spread_series_keeps_common_dates_only() -> None:
    a = load_leg(market({"A": frame(sessions("2025-01-06", 5), [1, 2, 3, 4, 5])}), "A")
    b_days = sessions("2025-01-06", 5)
    del b_days[2]
    b = load_leg(market({"B": frame(b_days, [1, 1, 1, 1])}), "B")
    both = spread_series(a, b, parse_window("1d"))
    assert len(both) == 3  # day 0 has no anchor, day 2 is missing in B
    assert both["spread"].iloc[-1] == pytest.approx(5 / 4 - 1)


def test_ratio_and_difference_of_symbols_and_series_on_common_dates() -> None:
    days = sessions("2025-01-06", 4)
    data = market(
        {"A": frame(days, [10, 20, 30, 40]), "B": frame(days[1:], [5, 10, 15])},
        **{"pe:A": series(days[:3], [20.0, 21.0, 22.0], "pe:A")},
    )
    ratio = load_leg(data, "A / B")
    assert ratio.name == "A / B" and list(ratio) == [4.0, 3.0, 8 / 3]
    assert list(ratio.index.date) == days[1:]  # the first day has no B
    difference = load_leg(data, "pe:A - A")
    assert list(difference) == [10.0, 1.0, -8.0] and list(difference.index.date) == days[:3]
    with pytest.raises(DataError, match="unknown symbol or series: C"):
        load_leg(data, "A / C")


def test_chart_series_keep_the_bar_still_trading() -> None:
    days = sessions("2025-01-06", 3)
    data = market({"A": frame(days, [1, 2, 4], final=[True, True, False]),
                   "B": frame(days, [1, 1, 2])})  # fmt: skip
    assert list(resolve_series(data, "A / B")) == [1.0, 2.0, 2.0]
    assert list(load_leg(data, "A / B")) == [1.0, 2.0]  # rules see final bars only
    with pytest.raises(UnknownSeries, match="unknown symbol or series: C"):
        resolve_series(data, "A - C")


def test_spread_errors_are_one_clear_line(split_market) -> None:
    with pytest.raises(DataError, match="unknown symbol or series: NOPE"):
        spread(split_market, "SPLT", "NOPE")
    with pytest.raises(DataError, match="no data on or before 2020-01-01"):
        spread(split_market, "SPLT", "FLAT", "ytd", date(2020, 1, 1))
    with pytest.raises(DataError, match="too short for window 1y"):
        spread(split_market, "SPLT", "FLAT", "1y")


@pytest.mark.parametrize("basis", ["total", "price"])
def test_spread_without_any_usable_final_bar_is_a_data_error(basis: str) -> None:
    days = ["2025-01-02", "2025-01-03"]
    data = market(
        {
            "PRV": frame(days, [1.0, 2.0], final=[False, False]),  # provisional only
            "NEG": frame(days, [-1.0, -2.0]),  # no positive price
            "OK": frame(days, [1.0, 2.0]),
        }
    )
    kind = "adjusted closes" if basis == "total" else "closes"
    with pytest.raises(DataError, match=f"^No usable final {kind} for PRV and NEG\\.$"):
        spread(data, "PRV", "NEG", "1d", basis=basis)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=f"^No usable final {kind} for NEG\\.$"):
        spread(data, "OK", "NEG", "1d", basis=basis)  # type: ignore[arg-type]


def test_since_window_after_the_data_says_so(split_market) -> None:
    with pytest.raises(DataError, match=r"^SPLT: window since:2030-01-01 starts after 2025-01-10$"):
        spread(split_market, "SPLT", "FLAT", "since:2030-01-01")
    with pytest.raises(DataError, match="window since:2025-01-06 starts after 2025-01-03"):
        spread(split_market, "SPLT", "FLAT", "since:2025-01-06", date(2025, 1, 3))


def _csv_ytd(path: Path, year: int) -> tuple[float, date]:
    """YTD total return from the file's rows, read with the csv module."""
    rows = [(date.fromisoformat(r["Date"]), r["Adj Close"]) for r in csv.DictReader(path.open())]
    rows = [(d, float(v)) for d, v in rows if v]
    start = [v for d, v in rows if d.year == year - 1][-1]
    end_day, end = [(d, v) for d, v in rows if d.year == year][-1]
    return end / start - 1, end_day


@pytest.mark.parametrize(("a", "b", "year"), [("IWC", "OEF", 2025), ("IWM", "IWB", 2020)])
def test_spread_matches_returns_computed_from_the_csv_rows(shared_data, a, b, year) -> None:
    prices = {s: read_csv_frame(shared_data / "prices" / f"{s}.csv") for s in (a, b)}
    report = spread(market(prices), a, b, "ytd", date(year, 12, 31))
    expected_a, end_a = _csv_ytd(shared_data / "prices" / f"{a}.csv", year)
    expected_b, _ = _csv_ytd(shared_data / "prices" / f"{b}.csv", year)
    assert report.a.end == end_a
    assert report.a.ret == pytest.approx(expected_a, rel=1e-9)
    assert report.b.ret == pytest.approx(expected_b, rel=1e-9)
    assert report.spread_bps == pytest.approx((expected_a - expected_b) * 10_000, rel=1e-9)

"""Live evaluation: data quality statuses, provisional bars, catch-up and full events per type."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from signals.evaluate import backtest_rule, evaluate_rule
from signals.models import RuleState
from signals.rules import parse_rule
from tests.signals.builders import frame, market, series, sessions

DAYS = sessions("2025-03-03", 6)


def high_rule(**extra: object):
    return parse_rule({"id": "hi", "type": "new_high", "symbol": "X", "min_history": 2, **extra})


def closes(values: list[float], **kwargs) -> dict:
    return {"X": frame(DAYS[: len(values)], values, **kwargs)}


def test_nan_last_bar_is_no_data_and_keeps_state() -> None:
    state = RuleState(cooldown=2, last_session=DAYS[2])
    data = market(closes([1, 2, 3, np.nan]))
    result = evaluate_rule(high_rule(), data, state)
    assert result.status == "NO DATA"
    assert result.reason == f"X: close missing (NaN) on {DAYS[3]}"
    assert result.state == state and result.events == ()


@pytest.mark.parametrize("bad", [0.0, -5.0])
def test_zero_or_negative_price_is_no_data(bad: float) -> None:
    result = evaluate_rule(high_rule(), market(closes([1, 2, 3, bad])))
    assert result.status == "NO DATA"
    assert f"X: non-positive close {bad:g} on {DAYS[3]}" == result.reason


def test_duplicated_dates_are_no_data() -> None:
    doubled = frame([DAYS[0], DAYS[1], DAYS[1]], [1, 2, 2.5])
    result = evaluate_rule(high_rule(), market({"X": doubled}))
    assert result.status == "NO DATA" and result.reason == f"X: duplicated date {DAYS[1]}"


def test_a_duplicated_bar_never_fires_and_the_bars_around_it_still_count() -> None:
    doubled = frame([DAYS[0], DAYS[1], DAYS[1]], [1, 2, 2.5])
    result = evaluate_rule(high_rule(), market({"X": doubled}))
    assert result.status == "NO DATA" and result.events == ()
    later = frame([DAYS[0], DAYS[1], DAYS[1], DAYS[2]], [1, 2, 2.5, 3])
    assert [e.date for e in backtest_rule(high_rule(), market({"X": later}))] == [DAYS[2]]


def test_missing_symbol_is_no_data() -> None:
    rule = parse_rule({"id": "c", "type": "relative_crossover", "a": "X", "b": "Y"})
    result = evaluate_rule(rule, market(closes([1, 2])))
    assert result.status == "NO DATA"
    assert result.reason == "Y: no data stored (unknown symbol or series)"


def test_stale_prices_against_the_expected_session() -> None:
    data = market(closes([1, 2, 3]))
    fresh = evaluate_rule(high_rule(), data, expected_session=DAYS[2])
    stale = evaluate_rule(high_rule(), data, expected_session=DAYS[3])
    assert fresh.status == "OK"
    assert stale.status == "STALE"
    assert stale.reason == f"X: last final bar {DAYS[2]}, expected session {DAYS[3]}"
    assert stale.session == DAYS[2]  # the bars that exist are still evaluated


def test_series_tolerate_publication_lag_but_not_weeks() -> None:
    rule = parse_rule({"id": "f", "type": "rate_change", "series": "FED"})
    data = market(FED=series(["2025-03-03", "2025-03-04"], [4.5, 4.5], "FED"))
    assert evaluate_rule(rule, data, expected_session=date(2025, 3, 7)).status == "OK"
    late = evaluate_rule(rule, data, expected_session=date(2025, 3, 14))
    assert late.status == "STALE" and "more than 7 days before 2025-03-14" in late.reason


def test_provisional_bar_never_fires_a_final_rule() -> None:
    data = market(closes([1, 2, 3, 9], final=[True, True, True, False]))
    state = evaluate_rule(high_rule(), market(closes([1, 2, 3]))).state
    result = evaluate_rule(high_rule(), data, state)
    assert result.events == () and result.session == DAYS[2]


def test_intraday_rule_alerts_on_provisional_bar_without_moving_state() -> None:
    rule = high_rule(intraday=True, hysteresis=0)
    quiet = market(closes([3, 2, 1]))
    state = evaluate_rule(rule, quiet).state
    live = evaluate_rule(rule, market(closes([3, 2, 1, 9], final=[True, True, True, False])), state)
    assert [e.dedupe_key for e in live.events] == [f"hi:{DAYS[3]}:fired"]
    assert live.state == state  # the provisional bar is evaluated on a copy
    final = evaluate_rule(rule, market(closes([3, 2, 1, 9])), live.state)
    assert [e.dedupe_key for e in final.events] == [f"hi:{DAYS[3]}:fired"]  # same key: one alert
    assert final.state.last_session == DAYS[3]


def test_catch_up_steps_every_missed_bar_in_order() -> None:
    rule = high_rule(hysteresis=0.0)
    prices = [1, 2, 1, 3, 1, 4]
    start = evaluate_rule(rule, market(closes(prices[:2]))).state
    caught_up = evaluate_rule(rule, market(closes(prices)), start)
    assert [e.date for e in caught_up.events] == [DAYS[3], DAYS[5]]
    assert caught_up.events == tuple(backtest_rule(rule, market(closes(prices)), DAYS[2]))
    again = evaluate_rule(rule, market(closes(prices)), caught_up.state)
    assert again.events == ()


def test_thin_history_reports_how_much_there_is() -> None:
    rule = parse_rule(
        {"id": "gap", "type": "extreme_since", "series": "pe:IWB - pe:IWM", "since": "2008-01-01"}
    )
    days = sessions("2026-06-01", 30)
    data = market(
        **{"pe:IWB": series(days, [25.0] * 30, "pe:IWB")},
        **{"pe:IWM": series(days, [18.0] * 30, "pe:IWM")},
    )
    result = evaluate_rule(rule, data)
    assert result.status == "NO DATA"
    assert (
        result.reason == "pe:IWB - pe:IWM: 30 values from 2026-06-01; needs history from 2008-01-01"
    )
    assert backtest_rule(rule, data) == []
    short = evaluate_rule(high_rule(min_history=10), market(closes([1, 2, 3])))
    assert (
        short.status == "NO DATA" and short.reason == f"X: 3 bars from {DAYS[0]}; needs at least 10"
    )


THIN = {
    "relative_crossover": ({"a": "A", "b": "B", "window": "5d", "hysteresis": 0}, 6),
    "spread_threshold": ({"a": "A", "b": "B", "window": "5d", "threshold_bps": 1}, 6),
    "new_high": ({"symbol": "A", "min_history": 5, "hysteresis": 0}, 5),
    "new_high_lookback": ({"symbol": "A", "lookback": 5, "min_history": 1}, 6),
    "rally_from_low": ({"symbol": "A", "lookback": 5, "threshold_pct": 1}, 5),
    "rate_change": ({"series": "L"}, 2),
    "curve": ({"long": "L", "short": "S", "mode": "change", "change_bps": 1, "sessions": 3}, 4),
    # 0.1 years = 37 days; with the 7-day slack the 23rd session is the first one covered.
    "extreme_since": ({"series": "A", "years": 0.1}, 23),
}


@pytest.mark.parametrize("kind", sorted(THIN))
def test_thin_history_never_fires_and_the_first_covered_bar_does(kind: str) -> None:
    fields, needed = THIN[kind]
    rule = parse_rule({"id": "t", "type": kind.removesuffix("_lookback"), **fields})

    def rising(count: int):  # A and L rise every bar: each rule fires as soon as it may
        days = sessions("2025-03-03", count)
        flat = [4.0] * count
        a, level = np.linspace(1, 2, count), np.linspace(4, 5, count)
        return days, market(
            {"A": frame(days, a), "B": frame(days, flat)},
            L=series(days, level, "L"),
            S=series(days, flat, "S"),
        )

    _, thin = rising(needed - 1)
    result = evaluate_rule(rule, thin)
    assert result.status == "NO DATA" and result.events == ()
    assert f"{needed - 1} " in result.reason and "from 2025-03-03" in result.reason
    assert backtest_rule(rule, thin) == []
    days, enough = rising(needed)
    assert evaluate_rule(rule, enough).status == "OK"
    assert [e.date for e in backtest_rule(rule, enough)] == [days[-1]]


def test_new_high_tie_is_not_a_record_and_event_names_the_previous_one() -> None:
    rule = high_rule(hysteresis=0.0)
    events = backtest_rule(rule, market(closes([5, 4, 5, 6])))
    assert [e.date for e in events] == [DAYS[3]]  # DAYS[2] only ties the record
    event = events[0]
    assert event.title == "X closes at a new all-time high: 6.0000"
    assert event.chart is not None and event.chart.kind == "new_high"
    assert (event.chart.reference_date, event.chart.reference_value) == (DAYS[0], 5.0)
    assert (event.unit, event.direction, event.symbols) == ("%", "up", ("X",))
    assert event.measure == 6.0 and event.threshold == 5.0


def test_new_high_on_intraday_highs_and_over_n_sessions() -> None:
    # Day 3 trades above the record close (high 5.5) but closes below it at 4.5.
    data = market(closes([5, 4, 3, 4.5], high=[5, 4, 3, 5.5]))
    assert backtest_rule(high_rule(), data) == []
    (event,) = backtest_rule(high_rule(basis="high"), data)
    assert event.date == DAYS[3] and event.measure == 5.5
    # Over the last 2 sessions 4.5 is a high (4 and 3 before it); all-time it is not.
    (recent,) = backtest_rule(high_rule(lookback=2), data)
    assert recent.date == DAYS[3] and recent.threshold == 4.0


def test_relative_crossover_event_reads_at_a_glance() -> None:
    days = ["2024-12-31", "2025-01-02", "2025-01-03", "2025-01-06"]
    data = market(
        {"IWC": frame(days, [100, 101, 103, 112.4]), "OEF": frame(days, [100, 102, 112, 111.9])}
    )
    rule = parse_rule(
        {"id": "x", "type": "relative_crossover", "a": "IWC", "b": "OEF", "hysteresis": 0.1,
         "description": "micro over mega", "min_sessions": 1}
    )  # fmt: skip
    (event,) = backtest_rule(rule, data)
    assert event.title == "IWC overtakes OEF YTD: +12.4% vs +11.9%"
    assert event.fields == (
        ("IWC YTD", "+12.4%"),
        ("OEF YTD", "+11.9%"),
        ("Spread", "+0.5 pp"),
        ("Window", "2024-12-31 → 2025-01-06"),
    )
    assert (event.unit, event.threshold, event.description) == ("pp", 0.0, "micro over mega")
    assert event.measure == pytest.approx(0.5)
    assert event.chart is not None
    assert (event.chart.kind, event.chart.legs, event.chart.start) == (
        "relative", ("IWC", "OEF"), date(2024, 12, 31),
    )  # fmt: skip


def test_default_crossover_wobbling_for_weeks_alerts_once() -> None:
    days = [date(2024, 12, 31), *sessions("2025-01-02", 40)]  # eight weeks after the anchor
    wobble = [100.0] + [100.3 if i % 2 else 99.7 for i in range(40)]  # YTD spread ±0.3 pp
    data = market({"A": frame(days, wobble), "B": frame(days, [100.0] * 41)})
    rule = parse_rule({"id": "x", "type": "relative_crossover", "a": "A", "b": "B"})
    assert [e.kind for e in backtest_rule(rule, data)] == ["fired"]  # defaults only
    flappy = parse_rule({"id": "x", "type": "relative_crossover", "a": "A", "b": "B",
                         "hysteresis": 0, "emit_reversed": False, "min_sessions": 1})  # fmt: skip
    assert len(backtest_rule(flappy, data)) == 20  # what the default band prevents


def test_rally_fires_at_exactly_the_threshold() -> None:
    rule = parse_rule(
        {"id": "r", "type": "rally_from_low", "symbol": "X", "threshold_pct": 50, "lookback": 3}
    )
    (event,) = backtest_rule(rule, market(closes([10, 8, 10, 12])))
    assert event.date == DAYS[3] and event.measure == pytest.approx(50.0)
    assert event.title == f"X up 50.0% from its 3-session low (8.0000 on {DAYS[1]})"


def test_spread_at_exactly_the_threshold_fires_and_a_tie_does_not_overtake() -> None:
    two = DAYS[:2]
    data = market({"A": frame(two, [1.0, 1.25]), "B": frame(two, [1.0, 1.0]),
                   "C": frame(two, [2.0, 2.5])})  # fmt: skip
    beats = {"id": "s", "type": "spread_threshold", "a": "A", "b": "B", "window": "1d"}
    (event,) = backtest_rule(parse_rule({**beats, "threshold_bps": 2500}), data)
    assert event.measure == 2500.0  # exactly: 1.25 and 0.25 are exact binary fractions
    assert backtest_rule(parse_rule({**beats, "threshold_bps": 2500.01}), data) == []
    # C returns exactly what A returns: a tie is not a crossover, in either direction.
    tie = {"id": "x", "type": "relative_crossover", "a": "A", "b": "C", "window": "1d"}
    for direction in ("up", "down", "either"):
        assert backtest_rule(parse_rule({**tie, "direction": direction}), data) == []


def test_curve_steepening_by_x_bps_over_n_sessions() -> None:
    days = sessions("2025-01-06", 6)
    data = market(
        L=series(days, [4.0, 4.0, 4.05, 4.1, 4.2, 4.2], "L"),
        S=series(days, [4.0] * 6, "S"),
    )
    rule = parse_rule({"id": "c", "type": "curve", "long": "L", "short": "S", "mode": "change",
                       "change_bps": 10, "sessions": 2})  # fmt: skip
    (event,) = backtest_rule(rule, data)
    assert event.date == days[3]  # +10 bps over 2 sessions: exactly the change asked for
    assert event.measure == pytest.approx(10.0)


def test_rate_cut_and_hike_titles() -> None:
    days = sessions("2025-09-15", 5)
    data = market(FED=series(days, [4.5, 4.5, 4.25, 4.25, 4.5], "FED"))
    rule = parse_rule({"id": "fed", "type": "rate_change", "series": "FED"})
    events = backtest_rule(rule, data)
    assert [(e.title, e.direction) for e in events] == [
        ("FED cut by 25 bps to 4.25%", "down"),
        ("FED hiked by 25 bps to 4.50%", "up"),
    ]
    cuts = parse_rule({"id": "cut", "type": "rate_change", "series": "FED", "direction": "down"})
    assert [e.date for e in backtest_rule(cuts, data)] == [days[2]]


def test_a_25_bps_cut_meets_a_25_bps_minimum_despite_float_noise() -> None:
    days = sessions("2025-09-15", 3)
    data = market(FED=series(days, [4.10, 4.10, 3.85], "FED"))  # (3.85 - 4.10) * 100 > -25
    rule = parse_rule({"id": "cut", "type": "rate_change", "series": "FED", "min_change_bps": 25})
    assert [e.title for e in backtest_rule(rule, data)] == ["FED cut by 25 bps to 3.85%"]


def test_curve_uninverts_after_confirmation() -> None:
    days = sessions("2025-01-06", 6)
    data = market(
        L=series(days, [4.0, 4.0, 4.3, 4.3, 4.3, 4.3], "L"),
        S=series(days, [4.2, 4.2, 4.2, 4.2, 4.2, 4.2], "S"),
    )
    rule = parse_rule({"id": "c", "type": "curve", "long": "L", "short": "S", "confirm": 3})
    (event,) = backtest_rule(rule, data)
    assert event.date == days[4]
    assert event.title == "L - S un-inverts: +10 bps"
    assert event.chart is not None and event.chart.legs == ("L - S",)


def test_extreme_since_says_since_when() -> None:
    days = pd.bdate_range("2000-01-03", periods=800)
    values = np.full(800, 1.0)  # flat: ties with the low are not new lows
    values[-1] = 0.5  # the lowest in the 2-year window ...
    values[100] = 0.4  # ... and since this older low, outside the window
    data = market(**{"R": series(days, values, "R")})
    rule = parse_rule(
        {"id": "e", "type": "extreme_since", "series": "R", "extreme": "low", "years": 2}
    )
    (last,) = backtest_rule(rule, data)
    assert last.date == days[-1].date()
    assert last.title == f"R at its lowest since {days[100].date()}: 0.5000"
    assert last.direction == "down" and last.threshold == 1.0
    assert last.chart is not None and last.chart.kind == "extreme"
    # The chart reaches back to the older low the title names, not only the 2-year window.
    assert last.chart.start == days[100].date()


def test_window_longer_than_history_says_how_much_there_is() -> None:
    rule = parse_rule({"id": "c", "type": "relative_crossover", "a": "X", "b": "Y", "window": "1y"})
    data = market({"X": frame(DAYS, [1, 2, 3, 4, 5, 6]), "Y": frame(DAYS[2:], [1, 2, 3, 4])})
    result = evaluate_rule(rule, data)
    assert result.status == "NO DATA"
    assert result.reason == (
        f"X: 6 bars from {DAYS[0]}; Y: 4 bars from {DAYS[2]}; "
        "not enough for window 1y on common dates"
    )

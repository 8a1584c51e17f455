"""Issue 23: what followed a rule's past firings, hand-computed on small series."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from signals.evaluate import backtest_rule
from signals.models import Event, MarketData
from signals.outcomes import Horizon, forward_paths, independent_windows, track_record
from signals.rules import parse_rule
from tests.signals.builders import frame, market, read_csv_frame, series, sessions

DAYS = sessions("2024-01-01", 12)
A = [100, 102, 101, 105, 104, 110, 108, 112, 115, 113, 120, 118]
B = [100, 100, 100, 100, 110, 100, 100, 100, 100, 100, 100, 100]
TWO = (Horizon("2S", 2),)
SPREAD = parse_rule(
    {"id": "ab", "type": "spread_threshold", "a": "A", "b": "B", "window": "1d",
     "threshold_bps": 150, "hysteresis": 0}
)  # fmt: skip


def fired(*rows: int, rule_id: str = "ab") -> list[Event]:
    """Fired events on these rows of DAYS, one episode each."""
    return [_event(rule_id, "fired", DAYS[row], DAYS[row]) for row in rows]


def _event(rule_id: str, kind: str, day: date, episode: date) -> Event:
    return Event(rule_id, kind, day, episode.isoformat(), "t", 0.0)  # type: ignore[arg-type]


def pair(a: list[float] = A, b: list[float] = B, drop_a: int | None = None) -> MarketData:
    days_a = [d for i, d in enumerate(DAYS) if i != drop_a]
    values_a = [v for i, v in enumerate(a) if i != drop_a]
    return market({"A": frame(days_a, values_a), "B": frame(DAYS, b)})


def test_spread_moves_by_hand_with_a_firing_too_recent_and_two_overlapping() -> None:
    # Rows 1 and 2 overlap (2 < 1 + 2); row 11 has no 2 sessions after it; the reversal and
    # a second event of row 1's episode (once_per_bar) are not firings of their own.
    events = [*fired(1, 2, 6, 11), _event("ab", "reversed", DAYS[4], DAYS[2])]
    events.append(_event("ab", "fired", DAYS[3], DAYS[1]))
    record = track_record(SPREAD, pair(), events, horizons=TWO)
    (outcome,) = record.horizons
    # Row 1: A 102 -> 105 (+294.12 bps), B flat. Row 2: A 101 -> 104 (+297.03) minus B
    # 100 -> 110 (+1000) = -702.97. Row 6: A 108 -> 115 (+648.15), B flat.
    expected = [294.1176470588, -702.9702970297, 648.1481481481]
    assert [d for d, _ in outcome.moves] == [DAYS[1], DAYS[2], DAYS[6]]
    assert [v for _, v in outcome.moves] == pytest.approx(expected)
    summary = outcome.firings
    assert (summary.count, summary.independent, summary.positive) == (3, 2, 2)
    assert summary.median == pytest.approx(294.1176470588)
    assert (summary.best, summary.worst) == pytest.approx((648.1481481481, -702.9702970297))
    assert (outcome.pending, outcome.gaps) == (1, 0)
    assert record.fired == (DAYS[1], DAYS[2], DAYS[6], DAYS[11])
    assert (record.since, record.until) == (DAYS[1], DAYS[11])  # a 1d window: from row 1
    assert record.tracked.label == "A − B" and record.tracked.unit == "bps"


def test_base_rate_is_every_session_of_the_rules_history() -> None:
    record = track_record(SPREAD, pair(), fired(1), horizons=TWO)
    base = record.horizons[0].base
    by_hand = [(A[i + 2] / A[i] - B[i + 2] / B[i]) * 10_000 for i in range(1, 10)]
    assert base.count == 9 and base.independent == 5  # rows 1, 3, 5, 7, 9
    assert base.median == pytest.approx(float(np.median(by_hand)))
    assert base.positive == sum(v > 0 for v in by_hand)
    assert (base.best, base.worst) == pytest.approx((max(by_hand), min(by_hand)))


@pytest.mark.parametrize("calendar", [True, False])
def test_a_window_ending_in_a_hole_of_a_leg_is_left_out_not_filled(calendar: bool) -> None:
    data = pair(drop_a=8)  # A has no bar on row 8: row 6's window ends in the hole
    if calendar:
        data = MarketData(data.prices, data.series, sessions=pd.DatetimeIndex(DAYS))
    record = track_record(SPREAD, data, fired(1, 6), horizons=TWO)
    outcome = record.horizons[0]
    assert [d for d, _ in outcome.moves] == [DAYS[1]]
    assert (outcome.firings.count, outcome.gaps, outcome.pending) == (1, 1, 0)
    # Rows 6 (ends in the hole) and 8 (starts in it) have no move; the 1d window has no
    # measure on row 9 either (its start is the hole), so the history still starts at row 1.
    assert outcome.base.count == 7
    path = forward_paths(record, 2)
    assert list(path.columns) == [DAYS[1], DAYS[6]]
    assert np.isnan(path[DAYS[6]].iloc[2]) and path[DAYS[1]].iloc[0] == 0.0


def test_a_zero_or_missing_price_counts_as_a_gap_and_disjoint_legs_as_no_history() -> None:
    corrupt = [*A[:8], 0.0, *A[9:]]  # a zero price is dropped when the leg is cleaned
    outcome = track_record(SPREAD, pair(a=corrupt), fired(1, 6), horizons=TWO).horizons[0]
    assert (outcome.firings.count, outcome.gaps) == (1, 1)
    apart = market({"A": frame(DAYS[:6], A[:6]), "B": frame(DAYS[6:], B[6:])})
    record = track_record(SPREAD, apart, fired(1), horizons=TWO)
    assert record.until is None and record.horizons[0].firings.count == 0
    assert record.horizons[0].base.count == 0 and record.horizons[0].pending == 1


def test_no_look_ahead_past_as_of() -> None:
    # Cut at row 8: row 6's window ends on row 8 and counts; a firing on row 9 is ignored.
    record = track_record(SPREAD, pair(), fired(1, 6, 9), horizons=TWO, as_of=DAYS[8])
    outcome = record.horizons[0]
    assert outcome.firings.count == 2 and outcome.pending == 0
    assert record.until == DAYS[8] and record.fired == (DAYS[1], DAYS[6])
    assert outcome.base.count == 6  # rows 1..6: each window ends by row 8


def test_the_backtests_firings_feed_the_record() -> None:
    events = backtest_rule(SPREAD, pair())
    record = track_record(SPREAD, pair(), events, horizons=TWO)
    dates = tuple(sorted({e.date for e in events if e.kind == "fired"}))
    assert record.fired == dates and len(dates) >= 2
    outcome = record.horizons[0]
    assert outcome.firings.count + outcome.pending + outcome.gaps == len(dates)


def test_one_leg_moves_are_returns_in_percent() -> None:
    rule = parse_rule({"id": "hi", "type": "new_high", "symbol": "A", "min_history": 2})
    record = track_record(rule, pair(), fired(3, rule_id="hi"), horizons=TWO)
    ((day, move),) = record.horizons[0].moves
    assert day == DAYS[3] and move == pytest.approx((110 / 105 - 1) * 100)
    assert record.tracked.unit == "%" and record.tracked.label == "A"


def test_a_rate_rule_measures_the_change_in_bps_on_the_sessions() -> None:
    # A rate published on a Saturday is first seen on Monday; a rate holds until it changes.
    days = [date(2024, 1, d) for d in (1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12)]
    values = [5.0, 5.0, 5.0, 5.0, 5.0, 5.25, 5.25, 5.25, 5.5, 5.5, 5.5]
    rule = parse_rule({"id": "r", "type": "rate_change", "series": "R"})
    data = MarketData(series={"R": series(days, values, "R")},
                      sessions=pd.bdate_range("2024-01-01", "2024-01-12"))  # fmt: skip
    saturday = _event("r", "fired", date(2024, 1, 6), date(2024, 1, 6))
    record = track_record(rule, data, [saturday], horizons=(Horizon("3S", 3),))
    ((day, move),) = record.horizons[0].moves
    assert day == date(2024, 1, 8) and move == pytest.approx(25.0)  # Mon 5.25 -> Thu 5.5
    assert record.tracked.unit == "bps"


def test_a_firing_on_a_bar_still_trading_is_pending_not_an_outcome() -> None:
    # An intraday rule may fire on a provisional bar; outcomes read final bars only.
    rule = parse_rule({"id": "hi", "type": "new_high", "symbol": "A", "min_history": 2,
                       "intraday": True})  # fmt: skip
    provisional = [True] * 11 + [False]
    data = market({"A": frame(DAYS, A, final=provisional), "B": frame(DAYS, B)})
    record = track_record(rule, data, fired(3, 11, rule_id="hi"), horizons=TWO)
    outcome = record.horizons[0]
    assert record.until == DAYS[10] and outcome.firings.count == 1 and outcome.pending == 1
    only = market({"A": frame(DAYS[:1], A[:1], final=[False])})
    empty = track_record(rule, only, fired(0, rule_id="hi"), horizons=TWO)
    assert empty.horizons[0].firings.count == 0 and empty.horizons[0].pending == 1


def test_independent_windows_counts_greedy_non_overlapping_starts() -> None:
    assert independent_windows(np.array([0, 1, 2, 3, 10, 11, 30]), 5) == 3
    assert independent_windows(np.array([], dtype=np.int64), 5) == 0
    assert independent_windows(np.array([0, 5, 10]), 5) == 3  # touching windows do not overlap


def test_real_track_records_of_two_default_rules(shared_data) -> None:  # type: ignore[no-untyped-def]
    from bot.config import load_settings
    from bot.rules.files import load_rules

    rules = {r.id: r for r in load_rules(load_settings(None))}
    prices = {
        s: read_csv_frame(shared_data / "prices" / f"{s}.csv") for s in ("IWM", "IWB", "^RUT")
    }
    data = MarketData(prices=prices)
    for rule_id, label, unit in (("iwm-beats-iwb-400bps-42d", "IWM − IWB", "bps"),
                                 ("rut-all-time-high", "^RUT", "%")):  # fmt: skip
        rule = rules[rule_id]
        record = track_record(rule, data, backtest_rule(rule, data))
        assert record.tracked.label == label and record.tracked.unit == unit
        three = record.at("3M")
        assert three is not None and three.firings.count >= 60
        assert three.firings.independent < three.firings.count
        assert three.firings.count + three.pending + three.gaps == len(record.fired)
        # One firing by hand from the CSV rows: the move 63 rows after it.
        day, move = three.moves[0]
        legs = [prices[s]["adj_close"].dropna() for s in record.tracked.legs]
        rets = [v.iloc[v.index.get_loc(pd.Timestamp(day)) + 63] / v.loc[pd.Timestamp(day)] - 1
                for v in legs]  # fmt: skip
        expected = (rets[0] - rets[1]) * 10_000 if unit == "bps" else rets[0] * 100
        assert move == pytest.approx(expected)

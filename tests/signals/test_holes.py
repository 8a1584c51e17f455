"""Issue 9 item 5: holes in a leg's sessions are never measured across, live or in a backtest."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signals.evaluate import backtest_report, backtest_rule, evaluate_rule
from signals.holes import Hole, find_holes, mark_holes
from signals.models import MarketData, RuleState
from signals.rules import Rule, parse_rule
from tests.signals.builders import frame
from tests.signals.test_backtest_equivalence import OPTIONS, RULES, _market

SESSIONS = pd.bdate_range("2024-01-01", "2026-12-31")


def test_more_than_three_missing_sessions_make_a_hole() -> None:
    days = SESSIONS[:30]
    three = days.delete(range(10, 13))
    assert find_holes(three, SESSIONS, "A") == []
    four = days.delete(range(10, 14))
    (hole,) = find_holes(four, SESSIONS, "A")
    assert hole == Hole("A", days[9].date(), days[14].date(), days[10].date(), days[13].date(), 4)
    assert hole.describe() == "A: 4 sessions missing between 2024-01-15 and 2024-01-18"


def test_dates_outside_the_calendar_and_weekend_rows_are_not_holes() -> None:
    before = pd.DatetimeIndex(["2023-06-01", "2023-12-01", "2024-01-01", "2024-01-02"])
    assert find_holes(before, SESSIONS, "A") == []  # nothing says which 2023 days traded
    saturday = pd.DatetimeIndex(["2024-01-05", "2024-01-06", "2024-01-08"])
    assert find_holes(saturday, SESSIONS, "A") == []


def spread_market(cut: slice | None) -> MarketData:
    """A jumps 6 % on session 40 (B flat): a 5d spread of 600 bps for five sessions."""
    days = SESSIONS[:80]
    a = np.where(np.arange(80) < 40, 100.0, 106.0)
    b_days = days if cut is None else days.delete(range(cut.start, cut.stop))
    b = np.full(len(b_days), 100.0)
    return MarketData(
        prices={"A": frame(days, a), "B": frame(b_days, b)}, sessions=pd.DatetimeIndex(SESSIONS)
    )


SPREAD = parse_rule(
    {"id": "s", "type": "spread_threshold", "a": "A", "b": "B", "window": "5d",
     "threshold_bps": 400, "hysteresis": 100}
)  # fmt: skip


def test_a_bar_whose_window_spans_the_hole_is_no_data_with_the_hole() -> None:
    data = spread_market(slice(36, 44))  # eight sessions missing from B around the jump
    first, last = SESSIONS[36].date(), SESSIONS[43].date()
    hole = f"B: 8 sessions missing between {first} and {last}"
    during = evaluate_rule(SPREAD, data, as_of=SESSIONS[46].date())
    assert (during.status, during.reason, during.events) == ("NO DATA", hole, ())
    events, holes = backtest_report(SPREAD, data)
    assert [h.describe() for h in holes] == [hole]
    assert events == []  # the jump happened inside the hole: nothing fired across it
    clean = backtest_rule(SPREAD, spread_market(None))
    assert [(e.kind, e.date) for e in clean] == [
        ("fired", SESSIONS[40].date()), ("reversed", SESSIONS[45].date()),
    ]  # fmt: skip


def test_without_sessions_nothing_is_a_hole() -> None:
    data = replace(spread_market(slice(36, 44)), sessions=None)
    across = backtest_rule(SPREAD, data)  # B's 5d return read across the hole
    assert [(e.kind, e.date) for e in across] == [
        ("fired", SESSIONS[44].date()), ("reversed", SESSIONS[45].date()),
    ]  # fmt: skip


def _live_events(rule: Rule, market: MarketData, every: int) -> list:
    """Checks on every `every`-th day (and the last), each seeing only the data stored by then."""
    days = sorted({d for f in [*market.prices.values(), *market.series.values()] for d in f.index})
    state: RuleState | None = None
    found: list = []
    for day in days[every - 1 :: every] + days[-1:]:
        seen = replace(
            market,
            prices={k: v[v.index <= day] for k, v in market.prices.items()},
            series={k: v[v.index <= day] for k, v in market.series.items()},
        )
        evaluation = evaluate_rule(rule, seen, state, as_of=day.date())
        found.extend(evaluation.events)
        state = evaluation.state
    return found


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mapping=RULES,
    options=OPTIONS,
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(30, 60),
    start=st.integers(3, 25),
    length=st.integers(4, 15),
    every=st.sampled_from([1, 3, 7]),
)
def test_with_holes_live_equals_backtest_and_adds_no_event(
    mapping, options, seed, n, start, length, every
) -> None:
    given_fields = {key: value for key, value in mapping.items() if value is not None}
    rule = parse_rule({"id": "prop", **given_fields, **options})
    full = _market(seed, n, gaps=False)
    days = full.prices["A"].index
    missing = days[start : start + length]
    holed = MarketData(
        prices={k: v[~v.index.isin(missing)] if k == "A" else v for k, v in full.prices.items()},
        series=full.series,
        sessions=pd.DatetimeIndex(pd.bdate_range(days[0], days[-1])),
    )
    assert _live_events(rule, holed, every) == backtest_rule(rule, holed)
    whole = replace(full, sessions=holed.sessions)
    truth = {(e.kind, e.date) for e in backtest_rule(rule, whole)}
    assert {(e.kind, e.date) for e in backtest_rule(rule, holed)} <= truth


def test_first_day_of_a_hole_is_named() -> None:
    hole = Hole("IWB", date(2024, 2, 29), date(2024, 5, 1), date(2024, 3, 1), date(2024, 4, 30), 42)
    assert hole.describe() == "IWB: 42 sessions missing between 2024-03-01 and 2024-04-30"


@settings(max_examples=80, deadline=None)
@given(
    spans=st.lists(st.tuples(st.integers(0, 59), st.integers(1, 8)), max_size=5),
    reach=st.lists(st.one_of(st.integers(0, 30), st.none()), min_size=60, max_size=60),
    xs=st.lists(st.one_of(st.floats(-2, 2), st.just(float("nan"))), min_size=60, max_size=60),
)
def test_marking_holes_at_once_is_marking_them_one_by_one(
    spans: list[tuple[int, int]], reach: list[int | None], xs: list[float]
) -> None:
    # Several holes, overlapping or not, in any order, and bars whose window reaches back any
    # number of bars (NaT: nothing): spoiled where some hole lies in the bar's window.
    days = SESSIONS[:60]
    holes = [
        Hole("A", days[s].date(), days[min(s + n, 59)].date(), days[s].date(), days[s].date(), 1)
        for s, n in spans
    ]
    starts = [pd.NaT if r is None else days[max(at - r, 0)] for at, r in enumerate(reach)]
    reaches = pd.Series(pd.DatetimeIndex(starts), index=days)
    x, hole, _ = mark_holes(np.array(xs), days, reaches, holes)
    naive = np.zeros(60, dtype=bool)
    for one in holes:
        naive |= (reaches.to_numpy() <= np.datetime64(one.last_missing)) & (
            days.values >= np.datetime64(one.before)
        )
    assert (hole == naive).all()
    assert np.array_equal(x, np.where(naive, np.nan, xs), equal_nan=True)

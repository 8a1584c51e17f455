"""Windows by the calendar: both legs of a spread start at the same session, whatever rows
each leg is missing (issue 19, item 3: a discarded bar must not shift one leg's window)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from signals.frames import rule_frame
from signals.legs import load_leg
from signals.measures import parse_window, spread_series, window_spans
from signals.rules import parse_rule
from tests.signals.builders import frame, market

DAYS = pd.bdate_range("2025-03-03", periods=60)
RULE = parse_rule(
    {"id": "a-beats-b", "type": "spread_threshold", "a": "A", "b": "B", "window": "10d"}
    | {"threshold_bps": 400}
)


def _legs(drop_from_a: list[int]) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(19)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, len(DAYS))))
    a_days = [d for i, d in enumerate(DAYS) if i not in drop_from_a]
    a_closes = [c for i, c in enumerate(closes) if i not in drop_from_a]
    data = market({"A": frame(a_days, a_closes), "B": frame(list(DAYS), closes)})
    return load_leg(data, "A"), load_leg(data, "B")


def test_a_missing_bar_inside_the_window_keeps_both_legs_on_the_same_sessions() -> None:
    a, b = _legs(drop_from_a=[30])
    both = spread_series(a, b, parse_window("10d"), sessions=DAYS)
    # A and B hold the same prices: on the same sessions the spread is exactly zero. Only
    # the bar whose window starts at the missing session itself starts A a close earlier.
    same = both["a_start"] == both["b_start"]
    assert (both.loc[same, "spread"].abs() < 1e-12).all()
    assert list(both.index[~same]) == [DAYS[40]]
    spans = window_spans(a, parse_window("10d"), DAYS).iloc[10:]
    assert spans.drop(DAYS[40]).eq(10).all() and spans[DAYS[40]] == 11


def test_counting_rows_shifts_the_window_of_the_leg_missing_a_bar() -> None:
    """What the calendar fixes: without sessions A's window starts one session early."""
    a, b = _legs(drop_from_a=[30])
    both = spread_series(a, b, parse_window("10d"))
    shifted = both[both["a_start"] != both["b_start"]]
    assert len(shifted) == 10 and (shifted["spread"].abs() > 1e-6).all()


def test_a_leg_missing_the_anchor_session_starts_from_its_last_close_before_it() -> None:
    a, b = _legs(drop_from_a=[30])
    both = spread_series(a, b, parse_window("10d"), sessions=DAYS)
    day = DAYS[40]  # its window starts at DAYS[30], the session A is missing
    assert both.loc[day, "b_start"] == DAYS[30] and both.loc[day, "a_start"] == DAYS[29]


@pytest.mark.parametrize("window", ["10d", "mtd", "1m"])
def test_the_rule_frame_reads_the_market_calendar(window: str) -> None:
    a, b = _legs(drop_from_a=[30, 31])
    data = market({"A": frame(list(a.index), list(a)), "B": frame(list(b.index), list(b))})
    rule = replace(RULE, window=window)
    counted = rule_frame(rule, data).frame
    calendar = rule_frame(rule, replace(data, sessions=DAYS)).frame
    same = calendar["a_start"] == calendar["b_start"]
    assert (calendar.loc[same, "measure"].abs() < 1e-6).all()
    # Only bars whose anchor is one of A's two missing sessions start A a close earlier.
    assert (~same).sum() <= 2
    if window == "10d":
        assert (counted["measure"].abs() > 1e-6).sum() > 2

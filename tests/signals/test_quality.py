"""The pure data-quality checks: impossible values, and implausible moves judged by the next bar."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from signals import quality as q

CONFIG = q.QualityConfig(links=q.link_groups([("^RUT", "IWM")]))


def walk(days: int = 120, seed: int = 7, start: float = 100.0) -> pd.Series:
    """A quiet random walk (about 1 % a day) on business days."""
    moves = np.random.default_rng(seed).normal(0, 0.01, days)
    index = pd.bdate_range("2024-01-02", periods=days)
    return pd.Series(start * np.exp(np.cumsum(moves)), index=index)


@pytest.mark.parametrize(
    ("value", "column", "rate", "expected"),
    [
        (math.nan, "close", False, "not a finite number"),
        (math.inf, "close", False, "not a finite number"),
        (0.0, "close", False, "not a positive price"),
        (-3.0, "adj_close", False, "not a positive price"),
        (1e300, "close", False, "absurdly large"),
        (45.0, "value", True, "outside plausible rates"),
        (-0.05, "close", True, None),  # a T-bill yield may dip below zero
        (-1.0, "volume", False, "negative"),
        (0.0, "volume", False, None),
        (101.5, "close", False, None),
        (None, "close", False, None),
    ],
)
def test_value_problem(value: float | None, column: str, rate: bool, expected: str | None) -> None:
    problem = q.value_problem(value, column, rate=rate)
    assert (problem is None) if expected is None else (expected in (problem or ""))


def test_links_are_symmetric_within_a_group() -> None:
    links = q.link_groups([("^RUT", "IWM", "IWC")])
    assert links["IWC"] == ("^RUT", "IWM") and links["^RUT"] == ("IWM", "IWC")


def test_a_quiet_series_has_no_verdicts() -> None:
    assert q.judge_prices(walk(), {}, CONFIG) == {}


def test_a_one_day_tick_is_discarded_and_the_bar_after_it_is_normal() -> None:
    values = walk()
    day = values.index[80]
    values[day] *= 10
    verdicts = q.judge_prices(values, {}, CONFIG)
    assert list(verdicts) == [day]
    assert verdicts[day].status == q.DISCARDED
    assert "one-day move of +" in verdicts[day].note and "reverted" in verdicts[day].note


def test_the_newest_bar_is_suspect_until_the_next_one_decides() -> None:
    values = walk()
    values.iloc[-1] = values.iloc[-2] / 10
    verdicts = q.judge_prices(values, {}, CONFIG)
    assert [v.status for v in verdicts.values()] == [q.SUSPECT]


def test_a_level_that_holds_is_confirmed() -> None:
    values = walk()
    values.iloc[90:] *= 0.8  # a real -20 % day that the following sessions keep
    verdicts = q.judge_prices(values, {}, CONFIG)
    assert [(d, v.status) for d, v in verdicts.items()] == [(values.index[90], q.CONFIRMED)]


def test_a_move_matched_by_a_linked_instrument_is_normal_at_once() -> None:
    rut, iwm = walk(seed=1), walk(seed=2)
    rut.iloc[-1] = rut.iloc[-2] * 0.88
    iwm.iloc[-1] = iwm.iloc[-2] * 0.87
    assert q.judge_prices(rut, {"IWM": iwm}, CONFIG) == {}
    iwm.iloc[-1] = iwm.iloc[-2] * 1.01  # the linked fund did not move: the index is suspect
    assert [v.status for v in q.judge_prices(rut, {"IWM": iwm}, CONFIG).values()] == [q.SUSPECT]


def test_a_persons_verdict_is_never_judged_again() -> None:
    values = walk()
    day = values.index[-1]
    values[day] = values.iloc[-2] * 3
    assert q.judge_prices(values, {}, CONFIG, keep={day: q.ACCEPTED}) == {}


def test_a_rate_jump_is_suspect_and_a_held_fed_change_is_confirmed() -> None:
    index = pd.bdate_range("2024-01-02", periods=80)
    yields = pd.Series(4.0 + np.random.default_rng(3).normal(0, 0.03, 80), index=index)
    yields.iloc[50] += 3.0  # a +300 bps spike for a day
    assert [v.status for v in q.judge_rates(yields, CONFIG).values()] == [q.DISCARDED]
    target = pd.Series(5.5, index=index)
    target.iloc[60:] = 5.25
    held = q.judge_rates(target, CONFIG, hold=True)
    assert [(d, v.status) for d, v in held.items()] == [(index[60], q.CONFIRMED)]
    target.iloc[-1] = 5.0  # the newest change waits for the next point
    assert q.judge_rates(target, CONFIG, hold=True)[index[-1]].status == q.SUSPECT

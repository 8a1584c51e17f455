"""Shape and identity checks (issue 19, item 4): frozen feeds, another symbol's prices, split
ratios, a target range upside down, weekend points that only repeat Friday's."""

from __future__ import annotations

import numpy as np
import pandas as pd

from signals import quality as q
from signals.shapes import (
    carry_to_weekends,
    identity_problem,
    judge_bounds,
    judge_drift,
    judge_frozen,
    stranger_problem,
    weekday_points,
)


def walk(seed: int, days: int = 120, start: float = 100.0) -> pd.Series:
    moves = np.random.default_rng(seed).normal(0, 0.01, days)
    index = pd.bdate_range("2024-01-02", periods=days)
    return pd.Series(start * np.exp(np.cumsum(moves)), index=index)


def tracking(index: pd.Series, seed: int) -> pd.Series:
    """A fund tracking `index` within a few bps a day, as IWM tracks ^RUT."""
    noise = np.random.default_rng(seed).normal(0, 0.0005, len(index))
    return index * np.exp(np.cumsum(noise)) / 10


def test_a_feed_stuck_on_one_close_is_held_then_discarded() -> None:
    values = walk(1)
    values.iloc[100:110] = values.iloc[100]  # ten sessions at one close, then trading again
    verdicts = judge_frozen(values)
    assert list(verdicts) == list(values.index[101:110])
    assert {v.status for v in verdicts.values()} == {q.DISCARDED}
    assert "for 10 sessions" in verdicts[values.index[101]].note
    values.iloc[100:] = values.iloc[100]  # still stuck at the newest bar
    assert {v.status for v in judge_frozen(values).values()} == {q.SUSPECT}
    assert judge_frozen(walk(2)) == {}


def test_a_file_holding_another_symbols_prices_is_named() -> None:
    iwm, iwb = walk(1, start=210.0), walk(2, start=330.0)
    problem = identity_problem(iwb, iwm)
    assert problem is not None and "another symbol's prices" in problem
    assert "first 2024-01-02" in problem
    assert identity_problem(iwm * 1.001, iwm) is None  # revisions are not a mix-up
    assert identity_problem(iwm / 2, iwm) is None  # a split re-bases every close alike


def test_a_level_shift_by_a_split_ratio_is_named() -> None:
    rut = walk(3)
    iwm, iwc = tracking(rut, 4), tracking(rut, 5)
    rut.iloc[90:] /= 2  # an unadjusted 2-for-1 split: its funds do not halve
    verdicts = q.judge_prices(rut, {"IWM": iwm, "IWC": iwc}, q.QualityConfig())
    assert {v.status for v in verdicts.values()} == {q.SUSPECT}
    assert "the ratio of a 2:1 split" in verdicts[rut.index[90]].note


def test_an_upside_down_target_range_holds_both_bounds() -> None:
    days = pd.date_range("2024-03-11", "2024-03-18")
    upper = pd.Series(5.5, index=days, name="DFEDTARU")
    lower = pd.Series(5.25, index=days, name="DFEDTARL")
    upper[days[4:7]] = 5.0  # Friday, and FRED's weekend repeats
    found = judge_bounds(upper, lower)
    assert list(found["DFEDTARU"]) == list(days[4:7]) == list(found["DFEDTARL"])
    assert found["DFEDTARU"][days[4]].status == q.DISCARDED  # Monday is consistent again
    assert "DFEDTARU 5 below DFEDTARL 5.25" in found["DFEDTARU"][days[4]].note


def test_weekend_points_repeating_friday_prove_nothing_and_share_its_verdict() -> None:
    days = pd.date_range("2024-03-11", "2024-03-18")
    target = pd.Series(5.5, index=days)
    target[days[4:7]] = 5.25  # a Friday "cut" FRED carries over the weekend, gone on Monday
    verdicts = q.judge_rates(weekday_points(target), q.QualityConfig(), hold=True)
    assert [v.status for v in verdicts.values()] == [q.DISCARDED]  # Monday undoes it
    carried = carry_to_weekends(target, verdicts)
    assert list(carried) == list(days[4:7])


def test_a_slow_ramp_the_linked_funds_do_not_share_is_held_then_discarded() -> None:
    rut = walk(1)
    iwm, iwc = tracking(rut, 2), tracking(rut, 3)
    ramp = 1.3 ** (np.arange(1, 7) / 6)  # +4.5 % a day: no single day beyond the 8 % floor
    rut.iloc[90:96] *= ramp
    verdicts = judge_drift(rut, {"IWM": iwm, "IWC": iwc}, 0.08)
    assert list(verdicts) == list(rut.index[90:96])
    assert {v.status for v in verdicts.values()} == {q.DISCARDED}  # back on the 7th day
    assert "IWM, IWC do not share" in next(iter(verdicts.values())).note
    rut.iloc[96:] *= 1.3  # the ramp's level stays: held however long
    held = judge_drift(rut, {"IWM": iwm, "IWC": iwc}, 0.08)
    assert {v.status for v in held.values()} == {q.SUSPECT}
    assert judge_drift(rut, {"IWM": iwm}, 0.08) == {}  # against one fund alone: who drifted?


def test_a_real_day_is_no_drift() -> None:
    rut = walk(1)
    rut.iloc[90:] *= 0.86
    iwm = tracking(rut, 2)
    assert judge_drift(rut, {"IWM": iwm}, 0.08) == {}


def _walk(seed: int, days: pd.DatetimeIndex, common: np.ndarray | None = None) -> pd.Series:
    """Closes of a random walk; `common` moves shared with a group (a market factor)."""
    moves = np.random.default_rng(seed).normal(0, 0.01, len(days))
    if common is not None:
        moves = 0.2 * moves + common
    return pd.Series(100 * np.exp(np.cumsum(moves)), index=days)


def test_a_file_whose_moves_follow_another_group_is_another_symbols() -> None:
    days = pd.bdate_range("2024-01-01", periods=300)
    small = np.random.default_rng(1).normal(0, 0.012, len(days))
    large = np.random.default_rng(2).normal(0, 0.01, len(days))
    index, fund, other = _walk(3, days, small), _walk(4, days, small), _walk(5, days, large)
    assert stranger_problem(fund, {"^RUT": index}, {"IWB": other}) is None
    problem = stranger_problem(other, {"^RUT": index}, {"IWB": other * 1.0})
    assert problem is not None and "follow IWB (correlation 1.00), not its linked ^RUT" in problem
    # Nothing outside the group explains it: which of the two files is wrong cannot be told.
    assert stranger_problem(other, {"^RUT": index}, {}) is None
    # Too little overlap to judge.
    assert stranger_problem(other[-40:], {"^RUT": index}, {"IWB": other}) is None

"""Confirmation is agreement, not persistence (issue 19, item 3): pure checks on made-up walks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from signals import quality as q

GROUP = ("^RUT", "IWM", "IWC", "IJR")
CONFIG = q.QualityConfig(links=q.link_groups([GROUP]))


def walk(seed: int, days: int = 120) -> pd.Series:
    """A quiet random walk (about 1 % a day) on business days."""
    moves = np.random.default_rng(seed).normal(0, 0.01, days)
    return pd.Series(
        100 * np.exp(np.cumsum(moves)), index=pd.bdate_range("2024-01-02", periods=days)
    )


def group() -> dict[str, pd.Series]:
    return {name: walk(seed) for seed, name in enumerate(GROUP)}


def judge(series: dict[str, pd.Series], name: str = "^RUT") -> dict[pd.Timestamp, q.Verdict]:
    linked = {other: series[other] for other in CONFIG.links[name]}
    return q.judge_prices(series[name], linked, CONFIG)


def statuses(verdicts: dict[pd.Timestamp, q.Verdict]) -> list[str]:
    return [v.status for v in verdicts.values()]


def test_a_level_repeated_by_the_same_feed_stays_suspect() -> None:
    series = group()
    series["^RUT"].iloc[100:] *= 1.5  # twenty sessions at a level no ETF shares
    verdicts = judge(series)
    assert statuses(verdicts) == [q.SUSPECT] * 20
    assert "IWM, IWC, IJR do not share" in verdicts[series["^RUT"].index[100]].note


def test_a_level_that_lasts_then_comes_back_is_discarded_whole() -> None:
    series = group()
    series["^RUT"].iloc[100:103] *= 10  # three sessions, then the real level again
    verdicts = judge(series)
    assert list(verdicts) == list(series["^RUT"].index[100:103])
    assert statuses(verdicts) == [q.DISCARDED] * 3


def test_a_bad_batch_on_two_of_four_linked_symbols_confirms_nothing() -> None:
    series = group()
    for name in ("^RUT", "IWM"):  # one bad batch: the index and its ETF together
        series[name].iloc[100:102] *= 1.25
    assert statuses(judge(series, "^RUT")) == [q.DISCARDED] * 2
    assert statuses(judge(series, "IWM")) == [q.DISCARDED] * 2
    assert judge(series, "IWC") == {}


def test_a_real_move_shared_by_the_others_is_normal_even_with_one_missing() -> None:
    series = group()
    for name in GROUP:
        series[name].iloc[100:] *= 0.86  # a real -14 % day
    assert judge(series) == {}
    day = series["IWM"].index[100]
    series["IWM"] = series["IWM"].drop(day)  # IWM's bar of that day is missing
    assert judge(series) == {}


def test_linked_funds_missing_the_day_confirm_it_the_next_session() -> None:
    series = group()
    for name in GROUP:
        series[name].iloc[100:] *= 0.86
    day = series["^RUT"].index[100]
    for name in GROUP[1:]:
        series[name] = series[name].drop(day)  # no ETF traded (or was fetched) that day
    verdicts = judge(series)
    assert [(d, v.status) for d, v in verdicts.items()] == [(day, q.CONFIRMED)]


def test_without_linked_data_the_next_bar_still_decides() -> None:
    values = walk(1)
    values.iloc[100:] *= 0.8
    assert statuses(q.judge_prices(values, {}, CONFIG)) == [q.CONFIRMED]


def test_the_move_that_ends_a_ramp_is_a_correction_not_a_new_level() -> None:
    """A ramp the move check cannot see (one linked fund in this column): the snap back puts
    the symbol in line with its links again, so it opens no stretch of its own."""
    series = group()
    series["^RUT"].iloc[100:106] *= 1.3 ** (np.arange(1, 7) / 6)  # +4.5 % a day, then back
    verdicts = q.judge_prices(series["^RUT"], {"IWM": series["IWM"]}, CONFIG)
    assert series["^RUT"].index[106] not in verdicts
    assert not [v for v in verdicts.values() if v.status == q.SUSPECT]

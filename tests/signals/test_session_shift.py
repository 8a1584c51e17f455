"""A series dated one session off against its linked instruments (issue 19): found on a shift,
never on real moves, holidays, holes or the whole shared history."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.config import DEFAULT_LINKS
from signals import quality as q
from signals.session_shift import judge_session_shift


def market(days: int = 300, seed: int = 7) -> dict[str, pd.Series]:
    """An index and three funds tracking it within a few bps a day, on the NYSE's 2020 weekdays
    without its holidays (gaps of two or three calendar days inside a week)."""
    rng = np.random.default_rng(seed)
    holidays = pd.to_datetime(["2020-01-20", "2020-02-17", "2020-04-10", "2020-05-25"])
    index = pd.bdate_range("2020-01-02", periods=days + 4).difference(holidays)[:days]
    moves = rng.normal(0, 0.012, days)
    moves[50] = -0.13  # a real crash day, shared by every link (2020-03-16: -14 %)
    moves[51] = 0.09
    names = ("^RUT", "IWM", "IWC", "IJR")
    return {
        name: pd.Series(
            100 * np.exp(np.cumsum(moves + rng.normal(0, 0.0008, days))), index=index, name=name
        )
        for name in names
    }


def dated_early(values: pd.Series, since: int) -> pd.Series:
    """`values` from position `since` on, each close stamped with the session before its own."""
    closes = np.r_[values.to_numpy()[: since - 1], values.to_numpy()[since:]]
    return pd.Series(closes, index=values.index[:-1])


def judge(prices: dict[str, pd.Series], name: str) -> dict:
    return judge_session_shift(prices[name], {n: s for n, s in prices.items() if n != name})


def test_a_symbol_dated_a_session_early_is_held_from_where_it_slipped() -> None:
    prices = market()
    prices["IWM"] = dated_early(prices["IWM"], 200)
    verdicts = judge(prices, "IWM")
    # From the slip (or the bar before it, whose move spans two sessions) to the newest bar.
    index, held = prices["IWM"].index, sorted(verdicts)
    assert index[198] <= held[0] <= index[199] and held == list(index[index.get_loc(held[0]) :])
    assert {v.status for v in verdicts.values()} == {q.SUSPECT}  # the newest data: held
    note = verdicts[min(verdicts)].note
    assert note.endswith("follow ^RUT/IWC/IJR one session later: dated a session early?")
    assert "from 2020-10" in note
    # The links it slipped from are not the ones dated off: one of three disagrees.
    assert judge(prices, "^RUT") == {} and judge(prices, "IWC") == {}


def test_a_stretch_dated_a_session_late_then_fixed_is_discarded() -> None:
    prices = market()
    iwc = prices["IWC"]
    late = np.r_[iwc.to_numpy()[:100], iwc.to_numpy()[99:199], iwc.to_numpy()[200:]]
    prices["IWC"] = pd.Series(late, index=iwc.index)  # 100..199 a session late, then right
    verdicts = judge(prices, "IWC")
    held = sorted(verdicts)
    # Bar 100 (Friday's close again: no move) may be where the agreement turned or the bar after.
    assert (
        iwc.index[99] <= held[0] <= iwc.index[101] and iwc.index[199] <= held[-1] <= iwc.index[201]
    )
    assert held == list(iwc.index[iwc.index.get_loc(held[0]) : iwc.index.get_loc(held[-1]) + 1])
    assert {v.status for v in verdicts.values()} == {q.DISCARDED}
    assert verdicts[held[0]].note.endswith("one session earlier: dated a session late?")


def test_real_moves_crash_days_holidays_and_holes_find_nothing() -> None:
    prices = market()
    prices["IWM"] = prices["IWM"].drop(prices["IWM"].index[[51, 120, 121, 122]])  # holes
    for name in prices:
        assert judge(prices, name) == {}, name


def test_a_shift_against_one_link_alone_cannot_be_told() -> None:
    prices = market()
    prices["IWM"] = dated_early(prices["IWM"], 200)
    assert judge_session_shift(prices["IWM"], {"^RUT": prices["^RUT"]}) == {}
    assert (
        judge_session_shift(prices["IWM"].iloc[:50], {n: prices[n] for n in ("^RUT", "IWC")}) == {}
    )


def test_the_whole_shared_history_has_no_symbol_dated_off(shared_data: Path) -> None:
    """Every linked symbol against its links since 1927, both price columns: zero findings."""
    frames = {
        name: pd.read_csv(shared_data / "prices" / f"{name}.csv", index_col=0, parse_dates=True)
        for group in DEFAULT_LINKS
        for name in group
    }
    for group in DEFAULT_LINKS:
        for name in group:
            for column in ("Close", "Adj Close"):
                links = {n: frames[n][column] for n in group if n != name}
                assert judge_session_shift(frames[name][column], links) == {}, (name, column)


@pytest.mark.parametrize("since", ["2024-03-13", "2020-03-02"])
def test_the_real_history_shifted_is_found_from_the_slip(shared_data: Path, since: str) -> None:
    """IWM's real closes dated a session early from `since` on (through the March 2020 crash
    too): held from the first session dated off, against ^RUT, IWC and IJR."""
    group = DEFAULT_LINKS[0]
    frames = {
        name: pd.read_csv(shared_data / "prices" / f"{name}.csv", index_col=0, parse_dates=True)
        for name in group
    }
    iwm = frames["IWM"]["Adj Close"].dropna()
    at = iwm.index.get_indexer([pd.Timestamp(since)])[0]
    shifted = dated_early(iwm, at)
    links = {n: frames[n]["Adj Close"] for n in group if n != "IWM"}
    verdicts = judge_session_shift(shifted, links)
    assert iwm.index[at - 2] <= min(verdicts) <= iwm.index[at - 1]
    assert list(verdicts)[-1] == shifted.index[-1]
    assert len(verdicts) >= len(shifted) - (at - 1)

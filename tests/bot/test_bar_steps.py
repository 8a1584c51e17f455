"""A stepped rule's quiet new bars, taken from per-leg aggregates without a frame, say what its
frame says; anything else (a transition, a hole they read, a bad last bar, a window still
waiting, a long catch-up of a kind read bar by bar) is left to the frame."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd

from bot.service.bar_steps import quiet_steps, reach
from signals.bar_step import MAX_NEW_BARS, step_new_bars
from signals.evaluate import evaluate_rule, last_bar, prime_state
from signals.models import Evaluation, MarketData, RuleState
from signals.rules import Rule, parse_rule
from tests.signals.builders import frame, series

DAYS = [d.date() for d in pd.bdate_range("2022-01-03", periods=700)]
PAIR = {"type": "relative_crossover", "a": "A", "b": "B", "window": "21d"}
SPREAD = {"type": "spread_threshold", "a": "A", "b": "B", "window": "42d", "threshold_bps": 100.0}
MAPPINGS: list[dict[str, object]] = [
    PAIR,
    {**PAIR, "direction": "either", "level": 1.0, "hysteresis": 0.5},
    {**PAIR, "window": "since:2022-06-01", "direction": "down"},
    {**PAIR, "window": "ytd", "min_sessions": 10},
    {**SPREAD, "direction": "down"},
    {**SPREAD, "window": "3m", "cooldown": 3},
    {"type": "new_high", "symbol": "A"},
    {"type": "new_high", "symbol": "B", "basis": "high", "min_history": 30},
    {"type": "new_high", "symbol": "A", "lookback": 20, "min_history": 21},
    {"type": "extreme_since", "series": "A / B", "years": 1.0, "extreme": "low"},
    {"type": "extreme_since", "series": "B", "since": date(2022, 3, 1)},
    {"type": "rally_from_low", "symbol": "B", "lookback": 63, "threshold_pct": 5.0},
    {"type": "rate_change", "series": "R", "direction": "either", "min_change_bps": 25.0},
    {"type": "rate_change", "series": "R", "direction": "down"},
    {"type": "curve", "long": "R", "short": "S", "level_bps": 50.0, "direction": "down"},
    {"type": "curve", "long": "R", "short": "S", "mode": "change", "change_bps": 20.0,
     "sessions": 5, "direction": "either"},
]  # fmt: skip


def rules() -> list[Rule]:
    return [parse_rule({**m, "id": f"r{n}"}) for n, m in enumerate(MAPPINGS)]


def walk(seed: int, scale: float) -> np.ndarray:
    steps = np.random.default_rng(seed).normal(0.0003, scale, len(DAYS))
    return 100.0 * np.exp(np.cumsum(steps))


def the_market(prices: dict[str, pd.DataFrame] | None = None) -> MarketData:
    """Two symbols and two rates on every session (the calendar is the sessions)."""
    rng = np.random.default_rng(3)
    rate = np.round(4.0 + np.cumsum(rng.choice([0, 0, 0, 0.25, -0.25], len(DAYS))), 2)
    other = np.round(3.5 + np.cumsum(rng.choice([0, 0, 0.05, -0.05], len(DAYS))), 2)
    a, b = walk(1, 0.015), walk(2, 0.01)
    return MarketData(
        prices=prices or {"A": frame(DAYS, a), "B": frame(DAYS, b, high=b * 1.01)},
        series={"R": series(DAYS, rate, "R"), "S": series(DAYS, other, "S")},
        sessions=pd.DatetimeIndex(DAYS, name="date"),
    )


def up_to(market: MarketData, end: date) -> MarketData:
    stamp = pd.Timestamp(end)
    return MarketData(
        prices={name: bars[bars.index <= stamp] for name, bars in market.prices.items()},
        series={name: values[values.index <= stamp] for name, values in market.series.items()},
        sessions=market.sessions,
    )


def stepped_to(rule: Rule, market: MarketData, end: date) -> RuleState:
    """The state a check on `end` saved: primed before its last bar, that bar stepped."""
    then = up_to(market, end)
    last = last_bar(rule, then)
    assert last is not None
    state = prime_state(rule, then, before=last)
    return evaluate_rule(rule, then, state).state


def both(rule: Rule, market: MarketData, state: RuleState) -> tuple[Evaluation | None, Evaluation]:
    """The quiet step (None: left to the frame) and the frame's evaluation of the new bars."""
    quiet = step_new_bars(rule, market, state, DAYS[-1], reach(rule, state))
    return quiet, evaluate_rule(rule, market, state, expected_session=DAYS[-1])


def test_every_quiet_new_bar_says_what_the_frame_says_session_by_session() -> None:
    market, taken, left = the_market(), 0, 0
    todays = [up_to(market, end) for end in DAYS[-SESSIONS:]]
    for rule in rules():
        state = stepped_to(rule, market, DAYS[-SESSIONS - 1])
        for today in todays:
            quiet, framed = both(rule, today, state)
            assert quiet is None or quiet == framed, (rule.id, framed.session)
            taken, left = taken + (quiet is not None), left + (quiet is None)
            state = framed.state
    assert taken > 10 * left  # the quiet step is the usual one...
    assert left > 0  # ...and transitions still go to the frame


SESSIONS = 20


def test_several_new_bars_are_stepped_together_up_to_the_limit_of_bar_by_bar_kinds() -> None:
    market, taken = the_market(), 0
    for rule in rules():
        state = stepped_to(rule, market, DAYS[-6])
        quiet, framed = both(rule, market, state)
        assert quiet is None or quiet == framed, rule.id
        taken += quiet is not None
    assert taken >= len(MAPPINGS) // 2
    rally = next(rule for rule in rules() if rule.type == "rally_from_low")
    long_ago = stepped_to(rally, market, DAYS[-MAX_NEW_BARS - 2])
    assert step_new_bars(rally, market, long_ago, DAYS[-1], reach(rally, long_ago)) is None


def without(market: MarketData, symbol: str, first: int, last: int) -> MarketData:
    """`symbol` missing the sessions DAYS[first..last] (a hole the calendar sees)."""
    bars = market.prices[symbol]
    kept = bars.drop(index=pd.DatetimeIndex([pd.Timestamp(d) for d in DAYS[first : last + 1]]))
    return replace(market, prices={**market.prices, symbol: kept})


def test_a_hole_the_new_bar_reads_is_left_to_the_frame_an_older_one_is_not() -> None:
    pair, record = rules()[0], rules()[6]  # a 21-session window on A and B; A's record
    recent = without(the_market(), "A", len(DAYS) - 12, len(DAYS) - 8)
    state = stepped_to(pair, recent, DAYS[-2])
    quiet, framed = both(pair, recent, state)
    assert quiet is None and framed.status == "NO DATA"  # the frame names the hole
    old = without(the_market(), "A", 200, 206)
    quiet, framed = both(pair, old, stepped_to(pair, old, DAYS[-2]))
    assert quiet is not None and quiet == framed
    # A record reads the whole history: a hole keeps it at NO DATA until it is filled.
    quiet, framed = both(record, old, RuleState(last_session=DAYS[-2]))
    assert quiet is None and framed.status == "NO DATA"


def test_a_bad_last_bar_an_unknown_leg_and_a_waiting_window() -> None:
    """A pair's bad last bar, an unknown leg and a waiting window are left to the frame; a
    record's bad last bar is not (nothing new to step: where it stood, and why NO DATA)."""
    market = the_market()
    pair = rules()[0]
    state = stepped_to(pair, market, DAYS[-2])
    bars = market.prices["A"].copy()
    bars.iloc[-1, bars.columns.get_loc("adj_close")] = -1.0
    broken = replace(market, prices={**market.prices, "A": bars})
    quiet, framed = both(pair, broken, state)
    assert quiet is None and framed.status == "NO DATA"
    # A record on a close the new bar lacks: the bars before are stepped, NO DATA says why.
    record = rules()[6]
    state = stepped_to(record, market, DAYS[-2])
    closes = market.prices["A"].copy()
    closes.iloc[-1, closes.columns.get_loc("close")] = np.nan
    quiet, framed = both(record, replace(market, prices={**market.prices, "A": closes}), state)
    assert quiet is not None and quiet == framed and framed.status == "NO DATA"
    gone = replace(market, prices={"A": market.prices["A"]})  # B's rows deleted since
    assert step_new_bars(pair, gone, state, DAYS[-1], reach(pair, state)) is None
    waiting = parse_rule({**PAIR, "id": "w", "window": "mtd", "min_sessions": 19})
    state = stepped_to(waiting, market, DAYS[-2])
    quiet, framed = both(waiting, market, state)
    assert quiet is None and "waiting" in framed.summary + framed.reason


def test_quiet_steps_take_only_stepped_rules_of_a_check_of_everything() -> None:
    market, all_rules = the_market(), rules()
    states = {rule.id: stepped_to(rule, market, DAYS[-2]) for rule in all_rules}
    states[all_rules[0].id] = RuleState()  # never stepped: primed on its frame
    found = quiet_steps(all_rules, market, states, None, DAYS[-1])
    assert found and all_rules[0].id not in found
    assert quiet_steps(all_rules, market, states, DAYS[-1], DAYS[-1]) == {}  # as of a day
    live = replace(all_rules[1], intraday=True)
    assert quiet_steps([live], market, states, None, DAYS[-1]) == {}

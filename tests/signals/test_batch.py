"""Rules sharing a frame share it: the same evaluations as each rule on a market of its own."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from signals.batch import frame_key, in_frame_order
from signals.evaluate import evaluate_rule, last_bar, prime_state
from signals.frames import rule_frame
from signals.models import MarketData
from signals.rules import Rule, parse_rule
from tests.signals.builders import frame, market, series

DAYS = [d.date() for d in pd.bdate_range("2023-01-02", periods=420)]
PAIR = {"type": "relative_crossover", "a": "A", "b": "B", "window": "21d"}
SPREAD = {"type": "spread_threshold", "a": "A", "b": "B", "window": "21d", "threshold_bps": 100.0}
MAPPINGS: list[dict[str, object]] = [
    PAIR,
    {**PAIR, "confirm": 2},
    {**SPREAD, "direction": "down"},
    {**PAIR, "cooldown": 5, "direction": "either"},
    {"type": "new_high", "symbol": "A", "lookback": 20, "min_history": 21},
    {**PAIR, "level": 1.0},
    {**SPREAD, "cooldown": 3, "hysteresis": 50.0},
    {"type": "rally_from_low", "symbol": "B", "lookback": 63, "threshold_pct": 5.0},
    {**PAIR, "trigger": "once", "direction": "either"},
    {**SPREAD, "window": "63d"},
    {"type": "new_high", "symbol": "A", "lookback": 20, "min_history": 21, "confirm": 3},
    {"type": "extreme_since", "series": "A / B", "years": 1.0, "extreme": "low"},
    {"type": "rate_change", "series": "R", "direction": "either", "min_change_bps": 25.0},
    {**PAIR, "hysteresis": 0.5, "emit_reversed": False},
]


def rules() -> list[Rule]:
    return [parse_rule({**m, "id": f"r{n}"}) for n, m in enumerate(MAPPINGS)]


def walk(seed: int, scale: float) -> np.ndarray:
    steps = np.random.default_rng(seed).normal(0.0003, scale, len(DAYS))
    return 100.0 * np.exp(np.cumsum(steps))


def fresh_market() -> MarketData:
    rate = np.round(4.0 + np.cumsum(np.random.default_rng(3).choice([0, 0, 0.25, -0.25], 420)), 2)
    prices = {"A": frame(DAYS, walk(1, 0.015)), "B": frame(DAYS, walk(2, 0.01))}
    return market(prices, R=series(DAYS, rate, "R"))


def evaluated(rule: Rule, data: MarketData) -> object:
    """A first check's evaluation: primed up to its last bar, then that bar evaluated."""
    built = rule_frame(rule, data)
    last = last_bar(rule, data, built=built)
    assert last is not None
    state = prime_state(rule, data, before=last, built=built)
    return evaluate_rule(rule, data, state, built=built, expected_session=DAYS[-1])


def test_rules_in_frame_order_on_one_market_say_what_each_says_alone() -> None:
    shared, all_rules = fresh_market(), rules()
    together = {at: evaluated(all_rules[at], shared) for at in in_frame_order(all_rules)}
    for at, rule in enumerate(all_rules):
        assert together[at] == evaluated(rule, fresh_market()), rule.id


def test_the_same_rules_in_the_given_order_say_the_same() -> None:
    # Out of frame order the last-frame slot misses often: nothing may leak between rules.
    shared, all_rules = fresh_market(), rules()
    alone = [evaluated(rule, fresh_market()) for rule in all_rules]
    assert [evaluated(rule, shared) for rule in all_rules] == alone
    assert [evaluated(rule, shared) for rule in reversed(all_rules)] == alone[::-1]


def test_only_what_a_rule_does_with_its_measure_leaves_its_frame_shared() -> None:
    base = parse_rule({**PAIR, "id": "a"})
    same = [
        replace(base, id="b", name="other", confirm=3, cooldown=4, hysteresis=2.0),
        replace(base, id="c", trigger="once", emit_reversed=False, tags=("x",)),
    ]
    other = [
        replace(base, level=1.0),
        replace(base, direction="down"),
        replace(base, window="63d"),
        replace(base, intraday=True),
    ]
    assert all(frame_key(rule) == frame_key(base) for rule in same)
    assert len({frame_key(rule) for rule in [base, *other]}) == 5
    data = fresh_market()
    first = rule_frame(base, data)
    assert all(rule_frame(rule, data) is first for rule in same)
    assert rule_frame(other[0], data) is not first


def test_frame_order_groups_shared_frames_and_keeps_the_order_within() -> None:
    all_rules = rules()
    order = in_frame_order(all_rules)
    assert sorted(order) == list(range(len(all_rules)))
    keys = [frame_key(all_rules[at]) for at in order]
    # Each frame's rules come in one run, in their own order.
    runs = [key for n, key in enumerate(keys) if n == 0 or keys[n - 1] != key]
    assert len(runs) == len(set(keys))
    for key in set(keys):
        positions = [at for at in order if frame_key(all_rules[at]) == key]
        assert positions == sorted(positions)

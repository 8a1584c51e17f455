"""Rules stepped together (one measure per group, thresholds as arrays) say exactly what each
rule stepped alone says: the same evaluation, or left to the frame, on random thresholds,
anti-flap options and states."""

from __future__ import annotations

from datetime import date

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.service.bar_steps import reach
from signals.bar_groups import step_groups
from signals.bar_step import step_new_bars
from signals.models import MarketData, RuleState, SideState
from signals.rules import Rule, parse_rule
from tests.bot.test_bar_steps import DAYS, the_market, without

MARKET = the_market()
# A hole in B's history two years back: the rules whose new bars read it go to the frame.
HOLED = without(MARKET, "B", 200, 205)

KINDS: list[dict[str, object]] = [
    {"type": "relative_crossover", "a": "A", "b": "B", "window": "21d"},
    {"type": "relative_crossover", "a": "A", "b": "B", "window": "ytd", "min_sessions": 5},
    {"type": "spread_threshold", "a": "A", "b": "B", "window": "42d"},
    {"type": "rally_from_low", "symbol": "B", "lookback": 63},
    {"type": "new_high", "symbol": "A"},
    {"type": "new_high", "symbol": "A", "lookback": 20, "min_history": 21},
    {"type": "extreme_since", "series": "B", "years": 1.0, "extreme": "low"},
    {"type": "extreme_since", "series": "A", "since": date(2022, 3, 1)},
    {"type": "rate_change", "series": "R"},
    {"type": "curve", "long": "R", "short": "S", "level_bps": 50.0},
]
# Thresholds near where the measures of the synthetic market stand, so some rules fire.
THRESHOLDS = {
    "relative_crossover": ("level", -8.0, 8.0),
    "spread_threshold": ("threshold_bps", 1.0, 800.0),
    "rally_from_low": ("threshold_pct", 0.5, 25.0),
    "rate_change": ("min_change_bps", 1.0, 30.0),
    "curve": ("level_bps", -100.0, 150.0),
}
DIRECTIONS = {"relative_crossover", "spread_threshold", "rate_change", "curve"}


@st.composite
def a_rule(draw: st.DrawFn, number: int) -> Rule:
    mapping = dict(draw(st.sampled_from(KINDS)))
    kind = str(mapping["type"])
    if kind in THRESHOLDS:
        name, low, high = THRESHOLDS[kind]
        mapping[name] = draw(st.floats(low, high).map(lambda v: round(v, 1)))
    if kind in DIRECTIONS:
        choices = ["up", "down"] + (["either"] if kind != "spread_threshold" else [])
        mapping["direction"] = draw(st.sampled_from(choices))
    mapping["confirm"] = draw(st.integers(1, 3))
    mapping["cooldown"] = draw(st.integers(0, 3))
    mapping["hysteresis"] = draw(st.sampled_from([0.0, 0.5, 2.0]))
    mapping["trigger"] = draw(st.sampled_from(["episode", "once", "once_per_bar"]))
    return parse_rule({**mapping, "id": f"r{number}"})


@st.composite
def a_side(draw: st.DrawFn) -> SideState:
    phase = draw(st.sampled_from(["inactive", "inactive", "pending", "firing"]))
    streak = draw(st.integers(1, 2)) if phase == "pending" else 0
    episode = None if phase == "inactive" else "2024-01-02"
    return SideState(phase=phase, streak=streak, episode=episode)


@st.composite
def a_state(draw: st.DrawFn, last: date) -> RuleState:
    idle = draw(st.booleans())
    if idle:
        return RuleState(last_session=last, fired=draw(st.integers(0, 1)))
    return RuleState(
        up=draw(a_side()),
        down=draw(a_side()),
        cooldown=draw(st.integers(0, 2)),
        fired=draw(st.integers(0, 2)),
        last_session=last,
    )


@st.composite
def a_check(draw: st.DrawFn) -> tuple[list[Rule], dict[str, RuleState], MarketData]:
    count = draw(st.integers(1, 12))
    rules = [draw(a_rule(n)) for n in range(count)]
    back = draw(st.sampled_from([1, 1, 1, 2, 4, 0]))  # new bars since the state (0: none)
    last = DAYS[-1 - back]
    states = {rule.id: draw(a_state(last)) for rule in rules}
    return rules, states, draw(st.sampled_from([MARKET, MARKET, HOLED]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a_check())
def test_rules_stepped_together_say_what_each_stepped_alone_says(
    check: tuple[list[Rule], dict[str, RuleState], MarketData],
) -> None:
    rules, states, market = check
    market = MarketData(prices=market.prices, series=market.series, sessions=market.sessions)
    together = step_groups(rules, market, states, DAYS[-1], reach)
    for rule in rules:
        state = states[rule.id]
        alone = step_new_bars(rule, market, state, DAYS[-1], reach(rule, state))
        assert together.get(rule.id) == alone, rule


def test_a_group_shares_one_measure_and_steps_each_member_from_its_own_state() -> None:
    """Ten crossovers on one pair and window, one measure: those whose condition holds fire
    (left to the frame), the idle ones below stay quiet, a pending one is re-armed."""
    market = MarketData(prices=MARKET.prices, series=MARKET.series, sessions=MARKET.sessions)
    levels = np.linspace(-20.0, 20.0, 10)
    rules = [
        parse_rule({**KINDS[0], "id": f"c{n}", "level": float(level)})
        for n, level in enumerate(levels)
    ]
    idle = RuleState(last_session=DAYS[-2])
    states = {rule.id: idle for rule in rules}
    states["c9"] = RuleState(up=SideState(phase="pending", streak=1), last_session=DAYS[-2])
    found = step_groups(rules, market, states, DAYS[-1], reach)
    for rule in rules:
        alone = step_new_bars(rule, market, states[rule.id], DAYS[-1], reach(rule, states[rule.id]))
        assert found.get(rule.id) == alone
    assert len(found) >= 5 and "c9" in found  # the far ones, and a pending one still pending
    assert found["c9"].state.up.streak == 0  # its condition stopped holding: re-armed
    assert "c0" not in found  # -20 pp: the condition holds, it fires: the frame builds the event
    assert len({evaluation.measure for evaluation in found.values()}) == 1

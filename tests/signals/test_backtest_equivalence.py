"""Property: live evaluation bar by bar (with persisted state) == one-pass backtest.

Each example draws random price and rate paths (with gaps and missing values) and a random
rule with random anti-flap options, then evaluates it live on every day, seeing only the data
up to that day as the service would, and compares the events with the backtest's.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signals.evaluate import backtest_rule, evaluate_rule
from signals.models import MarketData, RuleState
from signals.rules import Rule, parse_rule
from tests.signals.builders import frame, series

OPTIONS = st.fixed_dictionaries(
    {
        "confirm": st.integers(1, 3),
        "hysteresis": st.sampled_from([0.0, 0.5, 2.0]),
        "cooldown": st.integers(0, 4),
        "trigger": st.sampled_from(["episode", "once", "once_per_bar"]),
        "emit_reversed": st.booleans(),
    }
)
DIRECTION = st.sampled_from(["up", "down", "either"])


def _rule(kind: str, **fields: object) -> dict[str, object]:
    return {"type": kind, **fields}


RULES = st.one_of(
    st.builds(
        lambda w, d: _rule("relative_crossover", a="A", b="B", window=w, direction=d),
        st.sampled_from(["5d", "mtd", "ytd", "1m", "since:2024-12-20"]),
        DIRECTION,
    ),
    st.builds(
        lambda t, d: _rule(
            "spread_threshold", a="A", b="B", window="10d", threshold_bps=t, direction=d
        ),
        st.sampled_from([50, 200, 500]),
        st.sampled_from(["up", "down"]),
    ),
    st.builds(
        lambda lb, basis: _rule("new_high", symbol="A", lookback=lb, min_history=5, basis=basis),
        st.sampled_from([None, 10]),
        st.sampled_from(["close", "adj_close", "high"]),
    ),
    st.builds(
        lambda t: _rule("rally_from_low", symbol="B", lookback=15, threshold_pct=t),
        st.sampled_from([2, 5, 10]),
    ),
    st.builds(
        lambda e, years: _rule("extreme_since", series="A / B", extreme=e, years=years),
        st.sampled_from(["high", "low"]),
        st.sampled_from([0.1, 0.2]),
    ),
    st.builds(
        lambda e: _rule("extreme_since", series="A - B", extreme=e, since="2024-12-06"),
        st.sampled_from(["high", "low"]),
    ),
    st.builds(lambda d: _rule("curve", long="L", short="S", direction=d, level_bps=0), DIRECTION),
    st.builds(
        lambda d: _rule(
            "curve", long="L", short="S", mode="change", change_bps=20, sessions=5, direction=d
        ),
        DIRECTION,
    ),
    st.builds(lambda d: _rule("rate_change", series="L", direction=d), DIRECTION),
)


def _path(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    return 100 * np.exp(np.cumsum(rng.normal(0, scale, n)))


def _market(seed: int, n: int, gaps: bool) -> MarketData:
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2024-12-02", periods=n)
    a, b = _path(rng, n, 0.02), _path(rng, n, 0.015)
    if gaps:
        a[rng.random(n) < 0.05] = np.nan  # missing closes: skipped, never read as zero
        keep = rng.random(n) > 0.05  # missing days in B only
    else:
        keep = np.ones(n, dtype=bool)
    long = np.round(4 + np.cumsum(rng.choice([-0.25, 0, 0, 0, 0.25], n)) / 4, 2)
    short = 4 + rng.normal(0, 0.1, n)
    return MarketData(
        prices={"A": frame(days, a, high=a * 1.01), "B": frame(days[keep], b[keep])},
        series={"L": series(days, long, "L"), "S": series(days, short, "S")},
    )


def _until(market: MarketData, day: pd.Timestamp) -> MarketData:
    """What the service would have stored by the close of `day`."""
    return MarketData(
        prices={k: v[v.index <= day] for k, v in market.prices.items()},
        series={k: v[v.index <= day] for k, v in market.series.items()},
    )


def _live_events(rule: Rule, market: MarketData, every: int = 1) -> list[Any]:
    """Events of checks on every `every`-th day (and the last), each catching up what it missed."""
    days = sorted({d for f in [*market.prices.values(), *market.series.values()] for d in f.index})
    state: RuleState | None = None
    events: list[Any] = []
    for day in days[every - 1 :: every] + days[-1:]:
        evaluation = evaluate_rule(rule, _until(market, day), state, as_of=day.date())
        events.extend(evaluation.events)
        state = evaluation.state
    return events


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mapping=RULES,
    options=OPTIONS,
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(20, 60),
    gaps=st.booleans(),
    every=st.sampled_from([1, 1, 3, 7]),
)
def test_live_bar_by_bar_equals_one_pass_backtest(mapping, options, seed, n, gaps, every) -> None:
    given_fields = {key: value for key, value in mapping.items() if value is not None}
    rule = parse_rule({"id": "prop", **given_fields, **options})
    market = _market(seed, n, gaps)
    assert _live_events(rule, market, every) == backtest_rule(rule, market)


def test_backtest_window_keeps_the_state_built_before_it() -> None:
    rule = parse_rule({"id": "hi", "type": "new_high", "symbol": "A", "min_history": 5})
    market = _market(3, 70, gaps=False)
    every = backtest_rule(rule, market)
    start = date(2025, 1, 15)
    assert backtest_rule(rule, market, start) == [e for e in every if e.date >= start]

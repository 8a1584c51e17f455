"""Episode search primes confirm, cooldown and `once` rules exactly as stepping every bar does."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from signals.episodes import run_lengths
from signals.models import RuleState, SideState
from signals.state import MachineOptions, run_steps, settle

START = date(2025, 1, 6)


def days(count: int) -> list[date]:
    return [START + timedelta(days=i) for i in range(count)]


@settings(max_examples=500, deadline=None)
@given(
    xs=st.lists(
        st.one_of(st.floats(-3, 3, allow_nan=False), st.sampled_from([0.0, -0.5, -1.0, 1.0])),
        max_size=120,
    ),
    confirm=st.integers(1, 4),
    hysteresis=st.sampled_from([0.0, 0.5, 1.0]),
    cooldown=st.integers(0, 5),
    trigger=st.sampled_from(["episode", "episode", "once"]),
    inclusive=st.booleans(),
    two_sided=st.booleans(),
)
def test_the_searched_state_is_the_stepped_state(
    xs: list[float],
    confirm: int,
    hysteresis: float,
    cooldown: int,
    trigger: str,
    inclusive: bool,
    two_sided: bool,
) -> None:
    options = MachineOptions(
        confirm=confirm,
        hysteresis=hysteresis,
        cooldown=cooldown,
        trigger=trigger,  # type: ignore[arg-type]
        inclusive=inclusive,
        two_sided=two_sided,
    )
    bars = days(len(xs))
    assert settle(xs, bars, options) == run_steps(RuleState(), xs, bars, options)[0]


def test_run_lengths_count_the_bars_in_a_row() -> None:
    on = np.array([True, True, False, True, True, True, False, False, True])
    assert run_lengths(on).tolist() == [1, 2, 0, 1, 2, 3, 0, 0, 1]


def test_a_cooldown_holds_a_confirmed_rule_pending_then_fires_it() -> None:
    # Fires on bar 1 (two in a row), re-arms on bar 2, holds again from bar 3 but waits
    # for its cooldown (3 bars after bar 1): bar 5 is the first that may fire.
    xs = [1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0]
    options = MachineOptions(confirm=2, cooldown=3)
    state = settle(xs, days(len(xs)), options)
    fired = (START + timedelta(days=5)).isoformat()
    assert state == RuleState(
        up=SideState(phase="firing", episode=fired), cooldown=2, fired=2, last_session=days(7)[-1]
    )
    assert state == run_steps(RuleState(), xs, days(len(xs)), options)[0]

"""Episode search primes confirm, cooldown and `once` rules exactly as stepping every bar does."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from signals.episodes import run_lengths, settle_interacting
from signals.models import RuleState, SideState
from signals.state import MachineOptions, _Wakes, run_steps, settle
from tests.signals.strategies import DISTANCES, machine_options

START = date(2025, 1, 6)


def days(count: int) -> list[date]:
    return [START + timedelta(days=i) for i in range(count)]


@settings(max_examples=500, deadline=None)
@given(xs=DISTANCES, options=machine_options(("episode", "episode", "once")))
def test_the_searched_state_is_the_stepped_state(xs: list[float], options: MachineOptions) -> None:
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


def _options(two_sided: bool = True, **chosen: object) -> MachineOptions:
    return MachineOptions(two_sided=two_sided, **chosen)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    xs=st.lists(
        st.one_of(
            st.floats(-3, 3, allow_nan=False),
            st.sampled_from([0.0, -0.5, 0.5, -1.0, 1.0, float("nan")]),
        ),
        max_size=150,
    ),
    confirm=st.integers(1, 3),
    hysteresis=st.sampled_from([0.0, 0.5, 1.0]),
    cooldown=st.integers(0, 6),
    once=st.booleans(),
    inclusive=st.booleans(),
)
def test_interacting_sides_and_bars_without_a_measure_are_searched_as_stepped(
    xs: list[float], confirm: int, hysteresis: float, cooldown: int, once: bool, inclusive: bool
) -> None:
    # Two sides sharing a cooldown or `once`, or both holding at 0, and NaN bars anywhere:
    # what used to be stepped, now searched (`settle_interacting`, NaN bars left out).
    options = _options(
        confirm=confirm,
        hysteresis=hysteresis,
        cooldown=cooldown,
        trigger="once" if once else "episode",
        inclusive=inclusive,
    )
    bars = days(len(xs))
    assert settle(xs, bars, options) == run_steps(RuleState(), xs, bars, options)[0]


def test_the_searched_sides_are_the_stepped_sides_without_nan_bars() -> None:
    # `settle_interacting` itself, on every option: the same state as stepping.
    rng = np.random.default_rng(22)
    for case in range(200):
        values = np.round(rng.normal(0, 1.2, size=int(rng.integers(0, 90))), 1)
        options = _options(
            confirm=int(rng.integers(1, 4)),
            hysteresis=float(rng.choice([0.0, 0.5])),
            cooldown=int(rng.integers(0, 5)),
            trigger="once" if case % 3 == 0 else "episode",
            inclusive=bool(case % 2),
        )
        masks = _Wakes(values, options).masks()
        bars = days(len(values))
        once = options.trigger == "once"
        found = settle_interacting(values, bars, options.confirm, options.cooldown, once, masks)
        assert found == run_steps(RuleState(), values, bars, options)[0], (case, options)


def test_both_sides_hold_at_zero_and_the_up_side_wins_the_bar() -> None:
    # Inclusive: x = 0 holds both sides; up fires, down is held back that bar and, with no
    # cooldown, fires on the next bar it still holds (the up side is still firing).
    xs, options = [0.0, 0.0], _options(inclusive=True, hysteresis=0.5)
    state = settle(xs, days(2), options)
    assert state == run_steps(RuleState(), xs, days(2), options)[0]
    assert (state.up.phase, state.down.phase, state.fired) == ("firing", "firing", 2)
    assert (state.up.episode, state.down.episode) == (START.isoformat(), days(2)[1].isoformat())


def test_a_bar_without_a_measure_ends_the_history_but_changes_nothing() -> None:
    xs = [1.0, float("nan"), float("nan")]
    state = settle(xs, days(3), _options(cooldown=5))
    assert state.last_session == days(3)[-1]
    assert state.cooldown == 5  # NaN bars do not count down the cooldown
    assert state == run_steps(RuleState(), xs, days(3), _options(cooldown=5))[0]

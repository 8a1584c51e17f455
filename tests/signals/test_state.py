"""The anti-flap state machine: confirm, hysteresis, cooldown, triggers, reversals, wobble."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signals.models import RuleState
from signals.state import MachineOptions, Transition, run_steps, step

START = date(2025, 1, 6)


def days(count: int) -> list[date]:
    return [START + timedelta(days=i) for i in range(count)]


def run(xs: list[float], **options: object) -> tuple[RuleState, list[Transition]]:
    return run_steps(RuleState(), xs, days(len(xs)), MachineOptions(**options))  # type: ignore[arg-type]


def kinds(transitions: list[Transition]) -> list[tuple[str, int]]:
    """(kind, bar number) of each transition."""
    return [(t.kind, (t.day - START).days) for t in transitions]


def test_fires_once_when_condition_starts_and_reverses_when_it_clears() -> None:
    state, happened = run([-1, 1, 2, 3, -1, -2])
    assert kinds(happened) == [("fired", 1), ("reversed", 4)]
    assert happened[1].episode == happened[0].episode == days(2)[1].isoformat()
    assert state.phase == "inactive"
    assert state.last_session == days(6)[-1]


def test_exact_threshold_is_not_crossed_unless_inclusive() -> None:
    assert kinds(run([-1, 0, 0])[1]) == []
    assert kinds(run([-1, 0, 0], inclusive=True)[1]) == [("fired", 1)]


def test_confirm_needs_consecutive_bars() -> None:
    _, happened = run([1, 1, -1, 1, 1, 1], confirm=3)
    assert kinds(happened) == [("fired", 5)]
    state, _ = run([1, 1], confirm=3)
    assert (state.phase, state.up.streak) == ("pending", 2)


def test_hysteresis_band_must_be_crossed_before_rearming() -> None:
    # Firing at +1; dips to -0.5 (inside a 1.0 band) keep it firing; -1.0 clears it.
    _, happened = run([1, -0.5, 1, -0.9, 1, -1.0, 1], hysteresis=1.0)
    assert kinds(happened) == [("fired", 0), ("reversed", 5), ("fired", 6)]


def test_crossover_wobbling_around_zero_for_weeks_alerts_once() -> None:
    wobble = [0.3 if i % 2 else -0.3 for i in range(40)]  # eight weeks of daily flips
    _, without_band = run(wobble)
    _, with_band = run(wobble, hysteresis=1.0)
    assert len([t for t in without_band if t.kind == "fired"]) == 20  # the flap we prevent
    assert kinds(with_band) == [("fired", 1)]


def test_cooldown_blocks_refiring_for_n_bars() -> None:
    xs = [1, -1, 1, -1, 1, 1, 1]
    _, happened = run(xs, cooldown=3)
    # fired on bar 0; bars 1-3 are cooling down; still on at bar 4 → fires there.
    assert kinds(happened) == [("fired", 0), ("reversed", 1), ("fired", 4)]


def test_trigger_once_fires_a_single_episode_ever() -> None:
    _, happened = run([1, -1, 1, -1, 1], trigger="once")
    assert kinds(happened) == [("fired", 0), ("reversed", 1)]


def test_trigger_once_per_bar_fires_every_bar_the_condition_holds() -> None:
    _, happened = run([1, 1, -1, 1], trigger="once_per_bar")
    assert kinds(happened) == [("fired", 0), ("fired", 1), ("reversed", 2), ("fired", 3)]
    assert happened[1].episode == days(2)[1].isoformat()
    assert happened[2].episode == happened[1].episode


def test_two_sided_fires_each_direction_without_flapping() -> None:
    # Each side re-arms only once the measure has gone beyond the band on the other side.
    xs = [0.5, -0.5, 0.5, -0.5, -2, 2, -2]
    _, happened = run(xs, two_sided=True, hysteresis=1.0)
    fired = [(t.side, (t.day - START).days) for t in happened if t.kind == "fired"]
    assert fired == [("up", 0), ("down", 1), ("up", 5), ("down", 6)]


def test_nan_bar_changes_nothing() -> None:
    state, _ = run([1, -1], confirm=2)
    after, happened = step(state, float("nan"), START, MachineOptions(confirm=2))
    assert after is state and happened == []


@pytest.mark.parametrize("split", [1, 3, 5])
def test_stepping_in_pieces_equals_stepping_at_once(split: int) -> None:
    xs = [1, 1, -2, 0.5, 1, -0.2, -3, 2, 2, 2]
    options = MachineOptions(confirm=2, hysteresis=1.0, cooldown=2)
    whole_state, whole = run_steps(RuleState(), xs, days(len(xs)), options)
    first, part1 = run_steps(RuleState(), xs[:split], days(len(xs))[:split], options)
    second, part2 = run_steps(first, xs[split:], days(len(xs))[split:], options)
    assert part1 + part2 == whole
    assert second == whole_state


@settings(max_examples=300, deadline=None)
@given(
    xs=st.lists(
        st.one_of(st.floats(-3, 3, allow_nan=False), st.just(0.0), st.just(float("nan"))),
        max_size=60,
    ),
    confirm=st.integers(1, 3),
    hysteresis=st.sampled_from([0.0, 0.5, 1.0]),
    cooldown=st.integers(0, 3),
    trigger=st.sampled_from(["episode", "once", "once_per_bar"]),
    inclusive=st.booleans(),
    two_sided=st.booleans(),
)
def test_run_steps_skipping_quiet_bars_equals_stepping_every_bar(
    xs, confirm, hysteresis, cooldown, trigger, inclusive, two_sided
) -> None:
    options = MachineOptions(confirm, hysteresis, cooldown, trigger, inclusive, two_sided)
    state, naive = RuleState(), []
    for x, day in zip(xs, days(len(xs)), strict=True):
        state, happened = step(state, x, day, options)
        naive.extend(happened)
    fast_state, fast = run_steps(RuleState(), xs, days(len(xs)), options)
    assert fast == naive
    assert replace(fast_state, last_session=None) == state

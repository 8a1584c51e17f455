"""`settle` (priming without transitions) reaches exactly the state `run_steps` reaches."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from signals.models import RuleState, SideState
from signals.state import MachineOptions, run_steps, settle

START = date(2025, 1, 6)


def days(count: int) -> list[date]:
    return [START + timedelta(days=i) for i in range(count)]


@settings(max_examples=600, deadline=None)
@given(
    xs=st.lists(
        st.one_of(
            st.floats(-3, 3, allow_nan=False),
            st.sampled_from([0.0, -0.5, -1.0, float("nan")]),  # on the band, and gaps
        ),
        max_size=80,
    ),
    confirm=st.sampled_from([1, 1, 2]),
    hysteresis=st.sampled_from([0.0, 0.5, 1.0]),
    cooldown=st.sampled_from([0, 0, 2]),
    trigger=st.sampled_from(["episode", "episode", "once", "once_per_bar"]),
    inclusive=st.booleans(),
    two_sided=st.sampled_from([False, False, True]),
)
def test_settle_is_run_steps_without_the_transitions(
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


def test_an_alternating_rule_keeps_its_last_episode_and_count() -> None:
    xs = [-1.0, 2.0, 3.0, -1.5, 0.5, 1.0, -0.2]
    state = settle(xs, days(len(xs)), MachineOptions(hysteresis=1.0))
    up = SideState(phase="firing", episode=(START + timedelta(days=4)).isoformat())
    assert state == RuleState(up=up, fired=2, last_session=START + timedelta(days=6))

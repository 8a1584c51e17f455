"""`PrimingBars` settles many rules' options on one frame's bars, sharing the searches'
arrays between them, and each reaches exactly the state `run_steps` reaches alone."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from signals.models import RuleState
from signals.priming import PrimingBars
from signals.state import MachineOptions, run_steps

START = date(2025, 1, 6)

OPTIONS = st.builds(
    MachineOptions,
    confirm=st.sampled_from([1, 1, 2, 3]),
    hysteresis=st.sampled_from([0.0, 0.5, 1.0]),
    cooldown=st.sampled_from([0, 0, 2]),
    trigger=st.sampled_from(["episode", "episode", "once", "once_per_bar"]),
    inclusive=st.booleans(),
    two_sided=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(
    xs=st.lists(
        st.one_of(
            st.floats(-3, 3, allow_nan=False),
            st.sampled_from([0.0, -0.5, -1.0, 0.5, float("nan")]),  # on the band, and gaps
        ),
        max_size=60,
    ),
    many=st.lists(OPTIONS, min_size=1, max_size=8),
)
def test_rules_sharing_bars_each_settle_as_run_steps(
    xs: list[float], many: list[MachineOptions]
) -> None:
    # One PrimingBars for every rule, in any order and with repeats: what one rule's
    # search kept (run lengths, bands, ready positions) must never change another's state.
    bars = [START + timedelta(days=i) for i in range(len(xs))]
    shared = PrimingBars(xs, bars)
    for options in many:
        assert shared.settle(options) == run_steps(RuleState(), xs, bars, options)[0]

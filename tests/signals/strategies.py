"""Hypothesis strategies shared by the tests that compare a search with stepping every bar."""

from __future__ import annotations

from hypothesis import strategies as st

from signals.state import MachineOptions

# A rule's distance from firing, bar by bar: mostly any value, often exactly on a band edge.
DISTANCES = st.lists(
    st.one_of(st.floats(-3, 3, allow_nan=False), st.sampled_from([0.0, -0.5, -1.0, 1.0])),
    max_size=120,
)


def machine_options(triggers: tuple[str, ...]) -> st.SearchStrategy[MachineOptions]:
    """Every anti-flap option, with the trigger drawn from `triggers`."""
    return st.builds(
        MachineOptions,
        confirm=st.integers(1, 4),
        hysteresis=st.sampled_from([0.0, 0.5, 1.0]),
        cooldown=st.integers(0, 5),
        trigger=st.sampled_from(triggers),
        inclusive=st.booleans(),
        two_sided=st.booleans(),
    )

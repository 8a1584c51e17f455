"""The price judgement's fast paths give what the slow ones gave: every typical move taken at
once is the median each move's window gave on its own."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from signals.quality import _MAD_TO_SIGMA, QualityConfig, _typical_moves


def _one_at_a_time(sizes: np.ndarray, position: int, config: QualityConfig) -> float:
    """The typical move as _judge computed it before: a median per move."""
    recent = sizes[max(position - config.window, 0) : position]
    recent = recent[~np.isnan(recent)]
    if len(recent) < config.min_history:
        return math.nan
    return float(np.median(recent)) * _MAD_TO_SIGMA


MOVES = st.one_of(st.just(math.nan), st.floats(0, 0.5), st.sampled_from([0.0, 0.01, 0.02]))


@settings(max_examples=80, deadline=None)
@given(
    sizes=st.lists(MOVES, max_size=120),
    window=st.integers(1, 40),
    min_history=st.integers(1, 25),
)
def test_every_typical_move_is_its_windows_median(
    sizes: list[float], window: int, min_history: int
) -> None:
    config = QualityConfig(window=window, min_history=min_history)
    data = np.array(sizes, dtype=np.float64)
    positions = np.arange(len(data))
    expected = [_one_at_a_time(data, int(p), config) for p in positions]
    found = _typical_moves(data, positions, config).tolist()
    # Bit for bit (NaN where too few moves): a last-bit difference could flip a verdict.
    assert [x if not math.isnan(x) else "nan" for x in found] == [
        x if not math.isnan(x) else "nan" for x in expected
    ]

"""Dates found by binary search give exactly what pandas' get_indexer and reindex give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signals.dates import positions_in, values_on

DAYS = pd.date_range("2024-01-01", periods=40, freq="D")


def _index(picked: list[int], unit: str = "ns") -> pd.DatetimeIndex:
    return pd.DatetimeIndex(DAYS[picked]).as_unit(unit)


@settings(max_examples=60, deadline=None)
@given(
    have=st.lists(st.integers(0, 39), unique=True, max_size=30),
    wanted=st.lists(st.integers(0, 39), max_size=30),
    rising=st.booleans(),
    unit=st.sampled_from(["s", "ns"]),
)
def test_the_same_positions_and_values_as_pandas(
    have: list[int], wanted: list[int], rising: bool, unit: str
) -> None:
    index = _index(sorted(have) if rising else have)
    looked = _index(wanted, unit)
    assert positions_in(index, looked).tolist() == index.get_indexer(looked).tolist()
    series = pd.Series(np.arange(len(index), dtype=np.float64) * 1.5, index=index)
    expected = series.reindex(looked).to_numpy(dtype=np.float64)
    np.testing.assert_array_equal(values_on(series, looked), expected)


def test_empty_and_missing_values() -> None:
    empty = pd.Series([], index=pd.DatetimeIndex([]), dtype="float64")
    assert positions_in(empty.index, DAYS[:3]).tolist() == [-1, -1, -1]
    assert np.isnan(values_on(empty, DAYS[:3])).all()
    holes = pd.Series([1.0, np.nan, 3.0], index=DAYS[:3])
    np.testing.assert_array_equal(values_on(holes, DAYS[1:4]), [np.nan, 3.0, np.nan])


def test_a_repeated_date_still_raises_as_pandas_does() -> None:
    twice = pd.Series([1.0, 2.0], index=DAYS[[3, 3]])
    with pytest.raises(ValueError, match="duplicate"):
        values_on(twice, DAYS[:5])
    with pytest.raises(pd.errors.InvalidIndexError):
        positions_in(twice.index, DAYS[:5])

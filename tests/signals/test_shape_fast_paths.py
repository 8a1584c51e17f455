"""The quality shapes' fast paths give what the slow ones gave: judge_frozen steps only the
long runs, the stranger check joins sorted dates with numpy."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from signals.quality import DISCARDED, SUSPECT, Verdict
from signals.shapes import FROZEN_MIN, STRANGER_RETURNS, _last_common, _positive, judge_frozen


def _stepped(values: pd.Series, min_run: int) -> dict[pd.Timestamp, Verdict]:
    """The verdicts as judge_frozen gave them before: every run stepped in Python."""
    clean = values.dropna()
    data = clean.to_numpy(dtype=np.float64)
    if len(data) < min_run:
        return {}
    starts = np.flatnonzero(np.r_[True, data[1:] != data[:-1]])
    lengths = np.diff(np.r_[starts, len(data)])
    verdicts: dict[pd.Timestamp, Verdict] = {}
    longest = 1
    for start, length in zip(starts, lengths, strict=True):
        if length < max(min_run, longest + 1):
            longest = max(longest, int(length))
            continue
        status = SUSPECT if start + length == len(data) else DISCARDED
        note = (
            f"the same value {data[start]:g} for {length} sessions from "
            f"{clean.index[start].date()}, more than it ever repeated before ({longest}): "
            "a frozen feed"
        )
        for at in range(start + 1, start + length):
            verdicts[clean.index[at]] = Verdict(status, note)
    return verdicts


@settings(max_examples=100, deadline=None)
@given(
    runs=st.lists(
        st.tuples(st.integers(1, 12), st.sampled_from([1.0, 2.0, 3.0, np.nan])),
        min_size=0,
        max_size=40,
    ),
    min_run=st.sampled_from([1, 2, 3, FROZEN_MIN]),
)
def test_long_runs_only_give_the_stepped_verdicts(
    runs: list[tuple[int, float]], min_run: int
) -> None:
    values = [value for length, value in runs for _ in range(length)]
    index = pd.bdate_range("2020-01-01", periods=len(values))
    series = pd.Series(values, index=index, dtype="float64")
    assert judge_frozen(series, min_run) == _stepped(series, min_run)


def _joined_by_pandas(new: pd.Series, other: pd.Series) -> tuple[np.ndarray, object]:
    both = pd.concat([new.rename("new"), other.rename("other")], axis=1, join="inner")
    both = both[(both["new"] > 0) & (both["other"] > 0)].dropna().iloc[-STRANGER_RETURNS - 1 :]
    return both.to_numpy(dtype=np.float64), both.index[0] if len(both) else None


@settings(max_examples=60, deadline=None)
@given(
    new=st.lists(st.sampled_from([1.0, 2.5, -1.0, 0.0, np.nan]), max_size=300),
    other=st.lists(st.sampled_from([1.5, 3.0, -2.0, np.nan]), max_size=300),
    shift=st.integers(-50, 50),
)
def test_the_numpy_join_keeps_the_last_common_positive_dates(
    new: list[float], other: list[float], shift: int
) -> None:
    start = pd.Timestamp("2020-01-01")
    mine = pd.Series(new, index=pd.bdate_range(start, periods=len(new)), dtype="float64")
    theirs_start = start + pd.offsets.BDay(shift)
    theirs = pd.Series(
        other, index=pd.bdate_range(theirs_start, periods=len(other)), dtype="float64"
    )
    levels, first = _last_common(mine, theirs)
    expected, expected_first = _joined_by_pandas(mine, theirs)
    np.testing.assert_array_equal(levels, expected)
    assert first == expected_first


def _positive_as_before(series: pd.Series, *, repeats_first: bool) -> pd.Series:
    clean = series.dropna()
    if repeats_first:
        return clean[(clean > 0) & ~clean.index.duplicated(keep=False)]
    clean = clean[clean > 0]
    return clean[~clean.index.duplicated(keep=False)]


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.sampled_from([1.0, 2.0, -1.0, 0.0, np.nan]), max_size=30),
    days=st.lists(st.integers(0, 20), max_size=30),
    repeats_first=st.booleans(),
)
def test_positive_values_on_single_dates_with_or_without_repeats(
    values: list[float], days: list[int], repeats_first: bool
) -> None:
    size = min(len(values), len(days))
    index = pd.DatetimeIndex([pd.Timestamp("2020-01-01") + pd.Timedelta(days=d) for d in days])
    series = pd.Series(values[:size], index=index[:size], dtype="float64")
    expected = _positive_as_before(series, repeats_first=repeats_first)
    pd.testing.assert_series_equal(_positive(series, repeats_first=repeats_first), expected)

"""Monthly values on the sessions' clock, for track records (signals.outcomes).

A horizon is a number of sessions of the exchange's calendar. A monthly value is placed on
the first session on or after its date (when it can first be known, never earlier) and a
window ends on the valued session nearest its last session: from a month end, 21, 63 and
126 sessions end on the month end 1, 3 and 6 months on, whatever the month's length.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def session_clock(
    sessions: pd.DatetimeIndex | None, first: pd.Timestamp, last: pd.Timestamp
) -> pd.DatetimeIndex:
    """The sessions from `first` to the first one on or after `last` (weekdays when unknown)."""
    if sessions is None:
        sessions = pd.bdate_range(first, last + pd.offsets.BDay(1), name="date")
    after = sessions[sessions >= last]
    end = after[0] if len(after) else last
    return sessions[(sessions >= first) & (sessions <= end)]


def on_sessions(values: pd.Series, clock: pd.DatetimeIndex) -> pd.Series:
    """A sparse series on `clock`: each value on the first session on or after its date (when
    it can first be known), NaN between; a value past the clock's end is left out."""
    rows = clock.searchsorted(values.index, side="left")
    inside = rows < len(clock)
    placed = pd.Series(np.nan, index=clock, dtype="float64")
    # Two values on one session (a weekend between them): the later one is what is known.
    placed.iloc[rows[inside]] = values.to_numpy(dtype=np.float64)[inside]
    return placed


def nearest_valued(values: np.ndarray, sessions: int) -> np.ndarray:
    """Per row, the row with every leg valued nearest to the row `sessions` later (the
    earlier on a tie); -1 when that row is past the end or no row is valued."""
    valued = np.flatnonzero(~np.isnan(values).any(axis=1))
    target = np.arange(len(values)) + sessions
    if not len(valued):
        return np.full(len(values), -1, dtype=np.int64)
    after_at = np.searchsorted(valued, target, side="left")
    after = valued[np.minimum(after_at, len(valued) - 1)]
    before = valued[np.maximum(after_at - 1, 0)]
    nearest = np.where(np.abs(after - target) < np.abs(target - before), after, before)
    return np.where(target < len(values), nearest, -1).astype(np.int64)

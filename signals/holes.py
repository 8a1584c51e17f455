"""Holes: runs of exchange sessions missing from a leg's history, and the bars they spoil.

A measure computed across a hole is not a market fact: a 42-session spread over a two-month
hole spans four months, a YTD return may start before the hole and end after it. `find_holes`
compares a leg's dates with the exchange's sessions (passed in by the caller, so this stays
pure); a run of more than `HOLE_TOLERANCE` missing sessions is a hole (a source missing a
day or two now and then is tolerated). `mark_holes` blanks every bar whose measure reaches
back across a hole (the rule reports NO DATA with the hole) and marks `after_hole` the first
usable bar after such a stretch: from there the state machine is unsettled (what it would have
done during the hole is unknown) until `signals.state.unsettled_days` says otherwise, and
nothing it fires or reverses meanwhile is announced.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

# Missing sessions in a row that are tolerated before the gap counts as a hole.
HOLE_TOLERANCE = 3


@dataclass(frozen=True)
class Hole:
    """Sessions missing from `name` between two stored bars, `after` and `before`."""

    name: str
    after: date  # the last bar before the hole
    before: date  # the first bar after it
    first_missing: date
    last_missing: date
    missing: int

    def describe(self) -> str:
        """One line a desk reads: `IWB: 41 sessions missing between 2024-03-01 and ...`."""
        return (
            f"{self.name}: {self.missing} sessions missing between {self.first_missing} "
            f"and {self.last_missing}"
        )


def find_holes(
    dates: pd.DatetimeIndex,
    sessions: pd.DatetimeIndex,
    name: str,
    tolerance: int = HOLE_TOLERANCE,
) -> list[Hole]:
    """Every run of more than `tolerance` sessions missing between two of `dates` (sorted)."""
    if len(dates) < 2 or len(sessions) == 0:
        return []
    inside = dates[(dates >= sessions[0]) & (dates <= sessions[-1])]
    if len(inside) < 2:
        return []
    ends = sessions.searchsorted(inside, side="right")[:-1]  # first session after each bar
    starts = sessions.searchsorted(inside, side="left")[1:]  # the next bar's own position
    missing = starts - ends
    return [
        Hole(
            name,
            inside[i].date(),
            inside[i + 1].date(),
            sessions[ends[i]].date(),
            sessions[starts[i] - 1].date(),
            int(missing[i]),
        )
        for i in np.flatnonzero(missing > tolerance)
    ]


def mark_holes(frame: pd.DataFrame, reach: pd.Series, holes: Iterable[Hole]) -> pd.DataFrame:
    """Blank `x` where a bar's reach (the earliest bar it reads) lies before a hole it follows.

    Adds `hole` (the blanked bars) and `after_hole` (the first usable bar after a hole).
    """
    days = frame.index.values
    starts = pd.to_datetime(reach.reindex(frame.index)).values
    spoiled = np.zeros(len(frame), dtype=bool)
    holes = list(holes)
    for hole in holes:
        inside = starts <= np.datetime64(hole.last_missing)  # the window starts before its end
        spoiled |= inside & (days >= np.datetime64(hole.before))
    x = frame["x"].where(~spoiled)
    usable = x.notna().to_numpy()
    positions = np.arange(len(frame))
    last_spoiled = np.maximum.accumulate(np.where(spoiled, positions, -1))
    last_usable = np.maximum.accumulate(np.where(usable, positions, -1))
    usable_before = np.concatenate(([-1], last_usable[:-1]))
    after = usable & (last_spoiled > usable_before)  # the first usable bar after spoiled ones
    return frame.assign(x=x, hole=spoiled, after_hole=after)


def holes_at(frame: pd.DataFrame, reach: pd.Series, holes: Iterable[Hole]) -> list[Hole]:
    """The holes that spoil the last bar of `frame` (empty when it is usable)."""
    if frame.empty or "hole" not in frame or not bool(frame["hole"].iloc[-1]):
        return []
    day, start = frame.index[-1], pd.Timestamp(reach.reindex(frame.index).iloc[-1])
    return [
        h for h in holes if start <= pd.Timestamp(h.last_missing) and day >= pd.Timestamp(h.before)
    ]


def bars_back(index: pd.DatetimeIndex, count: int) -> pd.Series:
    """Per date, the date `count` bars earlier (NaT where history is shorter)."""
    shifted = pd.Series(index, index=index).shift(count)
    return pd.to_datetime(shifted)

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

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from signals.rules import Curve, ExtremeSince, NewHigh, PairRule, RallyFromLow, Rule

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
    # Only bars more than tolerance + 1 calendar days apart can have that many sessions between
    # them: a vectorised pass finds those few, and only they are looked up in the calendar.
    days, known = dates.values, sessions.values
    holes = []
    for i in np.flatnonzero(np.diff(days) > np.timedelta64(tolerance + 1, "D")):
        hole = _hole(name, days[i], days[i + 1], known)
        if hole is not None and hole.missing > tolerance:
            holes.append(hole)
    return holes


def _hole(name: str, after: np.datetime64, before: np.datetime64, known: np.ndarray) -> Hole | None:
    """The sessions missing strictly between two bars, if the calendar covers both."""
    if after < known[0] or before > known[-1]:
        return None  # before the calendar starts nothing says which days traded
    first = int(known.searchsorted(after.astype(known.dtype), side="right"))
    end = int(known.searchsorted(before.astype(known.dtype), side="left"))
    if end <= first:
        return None
    day = _day
    return Hole(name, day(after), day(before), day(known[first]), day(known[end - 1]), end - first)


def _day(value: np.datetime64) -> date:
    return pd.Timestamp(value).date()


def mark_holes(
    x: np.ndarray, index: pd.Index, reach: pd.Series, holes: Iterable[Hole]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blank `x` where a bar's reach (the earliest bar it reads) lies before a hole it follows.

    Returns `x` blanked, `hole` (the blanked bars) and `after_hole` (the first usable bar
    after a hole), each an array on `index`.
    """
    days = index.values
    spoiled = _spoiled(days, _reach_on(reach, index), list(holes))
    x = np.where(spoiled, np.nan, x)
    usable = ~np.isnan(x)
    positions = np.arange(len(index))
    last_spoiled = np.maximum.accumulate(np.where(spoiled, positions, -1))
    last_usable = np.maximum.accumulate(np.where(usable, positions, -1))
    usable_before = np.concatenate(([-1], last_usable[:-1]))
    after = usable & (last_spoiled > usable_before)  # the first usable bar after spoiled ones
    return x, spoiled, after


def _reach_on(reach: pd.Series, index: pd.Index) -> np.ndarray:
    """Each bar's reach as datetime64 values on `index` (in the unit it has)."""
    dated = isinstance(reach.dtype, np.dtype) and reach.dtype.kind == "M"
    if dated and (reach.index is index or reach.index.equals(index)):
        return reach.to_numpy()  # what `pd.to_datetime` leaves of a datetime64 Series
    return pd.to_datetime(reach.reindex(index)).values


def _spoiled(days: np.ndarray, starts: np.ndarray, holes: list[Hole]) -> np.ndarray:
    """The bars on or after a hole whose window starts before the hole's end: per bar, of
    the holes it is on or after (sorted by `before`), the latest end is enough to compare."""
    if not holes:
        return np.zeros(len(days), dtype=bool)
    order = sorted(holes, key=lambda hole: hole.before)
    befores = np.array([np.datetime64(h.before) for h in order]).astype(days.dtype)
    ends = np.array([np.datetime64(h.last_missing) for h in order]).astype(days.dtype)
    latest_end = np.maximum.accumulate(ends)
    after = befores.searchsorted(days, side="right")  # how many holes each bar is on or after
    reached = latest_end[np.maximum(after - 1, 0)]
    with np.errstate(invalid="ignore"):
        return (after > 0) & (starts <= reached)  # a NaT start reaches no hole


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


def window_reach(rule: Rule, dates: pd.Index, column: Callable[[str], np.ndarray]) -> pd.Series:
    """Per bar, the start of the window its measure reads: a hole inside it spoils the bar.

    All-time and N-year extremes read their whole window, so a hole keeps them at NO DATA
    until it is filled (`prices update` back-fills it): a record is only a record on
    complete history. `column` reads a column of the rule's frame as an array.
    """
    index = pd.DatetimeIndex(dates)
    if isinstance(rule, PairRule):
        return _earlier_start(dates, column)
    if isinstance(rule, NewHigh):
        back = len(index) if rule.lookback is None else rule.lookback
        return _window_start(index, back)
    if isinstance(rule, RallyFromLow):
        return bars_back(index, rule.lookback - 1)
    if isinstance(rule, ExtremeSince):
        if rule.since is not None:
            return pd.Series(pd.Timestamp(rule.since), index=index)
        assert rule.years is not None
        return pd.Series(index - pd.Timedelta(days=round(rule.years * 365.25)), index=index)
    if isinstance(rule, Curve) and rule.mode == "change":
        assert rule.sessions is not None
        return bars_back(index, rule.sessions)
    return bars_back(index, 1)  # rate changes and curve levels compare with the bar before


def _earlier_start(dates: pd.Index, column: Callable[[str], np.ndarray]) -> pd.Series:
    """Per bar, the earlier of the two legs' anchor dates (either one where the other is NaT)."""
    starts = [column(name) for name in ("a_start", "b_start")]
    if all(np.issubdtype(values.dtype, np.datetime64) for values in starts):
        return pd.Series(np.fmin(*starts), index=dates)  # fmin skips NaT, as min does
    both = pd.DataFrame({"a_start": starts[0], "b_start": starts[1]}, index=dates)
    return both.apply(pd.to_datetime).min(axis=1)


def _window_start(index: pd.DatetimeIndex, back: int) -> pd.Series:
    """`back` bars earlier, or the first bar when history is shorter (all-time windows)."""
    return bars_back(index, back).fillna(index[0] if len(index) else pd.NaT)

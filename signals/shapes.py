"""Shape and identity checks of a whole series (issue 19): bad data that no single move shows.

Pure, like `signals.quality`: a frozen feed (the same close for more sessions than the symbol
has ever repeated), a file that holds another symbol's prices (most of its closes far from
the ones already stored for the same dates), a rate target whose upper bound sits below its
lower bound, and weekend points of a daily rate that only repeat Friday's.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from signals.quality import DISCARDED, SUSPECT, Verdict

# No price in the shared history since 1927 repeated its close more than 4 sessions in a row.
FROZEN_MIN = 5
# A file whose closes differ from the stored ones by more than this on more than IDENTITY_SHARE
# of at least IDENTITY_OVERLAP common dates holds another symbol's prices (a mapping mix-up).
IDENTITY_TOLERANCE = 0.05
IDENTITY_SHARE = 0.5
IDENTITY_OVERLAP = 20
# Re-based by a split, every stored close moves by the same ratio: that is not a mix-up.
_SPLIT_SPREAD = 0.002


def judge_frozen(values: pd.Series, min_run: int = FROZEN_MIN) -> dict[pd.Timestamp, Verdict]:
    """The repeats of a run of identical values longer than any the series had before.

    The run's first bar is real (the feed froze after it); the repeats are discarded once a
    different value follows, suspect while the run is the newest data.
    """
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
        day = clean.index[start].date()
        note = (
            f"the same value {data[start]:g} for {length} sessions from {day}, more than it "
            f"ever repeated before ({longest}): a frozen feed"
        )
        for at in range(start + 1, start + length):
            verdicts[clean.index[at]] = Verdict(status, note)
    return verdicts


def identity_problem(new: pd.Series, stored: pd.Series) -> str | None:
    """Why `new` (a file's closes) cannot be the symbol whose `stored` closes it would replace.

    Both are indexed by date. Most common dates far apart, and not by one split ratio, means
    the file holds another symbol's prices.
    """
    both = pd.concat([new.rename("new"), stored.rename("stored")], axis=1, join="inner")
    both = both[(both["new"] > 0) & (both["stored"] > 0)].dropna()
    if len(both) < IDENTITY_OVERLAP:
        return None
    logs = np.log(both["new"].to_numpy() / both["stored"].to_numpy())
    far = np.abs(logs) > math.log1p(IDENTITY_TOLERANCE)
    if far.mean() <= IDENTITY_SHARE or np.std(logs) < _SPLIT_SPREAD:
        return None
    first = both.index[far.argmax()]
    return (
        f"{int(far.sum()):,} of {len(both):,} closes differ from the stored ones by more than "
        f"{IDENTITY_TOLERANCE:.0%} (median {math.expm1(float(np.median(logs))):+.0%}; first "
        f"{first.date()}: {both['new'][first]:g} where {both['stored'][first]:g} is stored): "
        "another symbol's prices?"
    )


def judge_bounds(upper: pd.Series, lower: pd.Series) -> dict[str, dict[pd.Timestamp, Verdict]]:
    """Both points of every date where a target range's upper bound is below its lower one.

    Which bound is wrong cannot be told: both are discarded once a consistent date follows,
    suspect while the crossing is the newest data.
    """
    both = pd.concat([upper.rename("upper"), lower.rename("lower")], axis=1, join="inner")
    consistent = both.index[both["upper"] >= both["lower"]]
    crossed = both[both["upper"] < both["lower"]]
    found: dict[str, dict[pd.Timestamp, Verdict]] = {str(upper.name): {}, str(lower.name): {}}
    for day, row in crossed.iterrows():
        status = DISCARDED if len(consistent) and consistent[-1] > day else SUSPECT
        note = (
            f"{upper.name} {row['upper']:g} below {lower.name} {row['lower']:g} on "
            f"{pd.Timestamp(day).date()}: the range is inconsistent"
        )
        found[str(upper.name)][day] = Verdict(status, note)
        found[str(lower.name)][day] = Verdict(status, note)
    return found


def weekday_points(values: pd.Series) -> pd.Series:
    """A daily series without its weekend points (they repeat Friday's and prove nothing)."""
    return values[pd.DatetimeIndex(values.index).day_of_week < 5]


def carry_to_weekends(
    values: pd.Series, verdicts: dict[pd.Timestamp, Verdict]
) -> dict[pd.Timestamp, Verdict]:
    """Each weekend point repeating the weekday before it takes that weekday's verdict."""
    if not verdicts:
        return verdicts
    index = pd.DatetimeIndex(values.index)
    weekday = pd.Series(index.where(index.day_of_week < 5), index=index).ffill()
    carried = dict(verdicts)
    for day in index[(index.day_of_week >= 5) & weekday.isin(list(verdicts)).to_numpy()]:
        friday = weekday[day]
        if values[day] == values[friday]:
            carried[day] = verdicts[friday]
    return carried

"""Shape and identity checks of a whole series (issue 19): bad data that no single move shows.

Pure, like `signals.quality`: a frozen feed (the same close for more sessions than the symbol
has ever repeated), a file that holds another symbol's prices (most of its closes far from
the ones already stored for the same dates, or, with nothing stored, daily moves that follow
another group's symbol rather than its own linked instruments), a slow ramp its linked
instruments do not share, a rate target whose upper bound sits below its lower bound,
and weekend points of a daily rate that only repeat Friday's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from signals.dates import values_on
from signals.quality import DISCARDED, SUSPECT, Verdict

# No price in the shared history since 1927 repeated its close more than 4 sessions in a row.
FROZEN_MIN = 5
# A file whose closes differ from the stored ones by more than this on more than IDENTITY_SHARE
# of at least IDENTITY_OVERLAP common dates holds another symbol's prices (a mapping mix-up).
IDENTITY_TOLERANCE = 0.05
IDENTITY_SHARE = 0.5
IDENTITY_OVERLAP = 20
# A rate and the same instrument from another source (DGS3MO and Yahoo's ^IRX, the 3-month
# bill): their spread sits within 19 bps of its median of the last 20 dates on 99.9 % of days
# since 1982 (it reached 45 in September 2008, when both moved). A point TWIN_PARTED_BPS from
# that spread while the twin stayed within half of it of its own median is the rate's error:
# not one real day since 1982 qualifies at 30 bps.
TWIN_PARTED_BPS = 30.0
TWIN_BASE = 20
# A slow ramp is measured over this many bars against the median of the linked instruments.
DRIFT_WINDOW = 10
# A linked instrument's one-day move beyond this (log) leaves it out of a drift's vote.
JUMP_FOR_DRIFT = 0.08
# How far above its lowest the drift may sit and still be taken for where it began (log).
BASE_NOISE = 0.008
# Re-based by a split, every stored close moves by the same ratio: that is not a mix-up.
_SPLIT_SPREAD = 0.002
# With nothing stored to compare, a file is judged by its daily moves over its last
# STRANGER_RETURNS sessions: every real member of a linked group follows one of its links at a
# correlation of at least 0.966 (shared data since 2000), members of different groups at most
# 0.90. Below STRANGER_MIN_CORRELATION with every link, while a symbol outside the group
# follows it better by STRANGER_MARGIN, the file is another symbol's.
STRANGER_RETURNS = 250
STRANGER_MIN_RETURNS = 60
STRANGER_MIN_CORRELATION = 0.93
STRANGER_MARGIN = 0.05


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
    # Runs shorter than min_run always count towards the longest so far; only the few runs of
    # min_run or more are stepped (a run per bar stepped in Python cost most of an import).
    short = np.maximum.accumulate(np.where(lengths < min_run, lengths, 1))
    verdicts: dict[pd.Timestamp, Verdict] = {}
    longest = 1
    for run in np.flatnonzero(lengths >= min_run):
        start, length = starts[run], lengths[run]
        longest = max(longest, int(short[run - 1])) if run else longest
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


def stranger_problem(
    new: pd.Series, links: Mapping[str, pd.Series], others: Mapping[str, pd.Series]
) -> str | None:
    """Why `new` (a file's closes, nothing stored for it) cannot be the symbol it is named for.

    Its daily moves follow none of its `links` (its linked instruments' closes) but do follow
    one of the `others` (symbols outside its group) better: another symbol's prices. When no
    outside symbol explains it, nothing is said: which of two files is wrong cannot be told.
    """
    own = _best_follower(new, links)
    if own is None or own[1] >= STRANGER_MIN_CORRELATION:
        return None
    other = _best_follower(new, others)
    if other is None or other[1] < own[1] + STRANGER_MARGIN:
        return None
    return (
        f"its daily moves follow {other[0]} (correlation {other[1]:.2f}), not its linked "
        f"{own[0]} ({own[1]:.2f}), over {other[3]} sessions (first {other[2].date()}): "
        "another symbol's prices?"
    )


def _best_follower(
    new: pd.Series, candidates: Mapping[str, pd.Series]
) -> tuple[str, float, pd.Timestamp, int] | None:
    """The candidate whose last daily log moves correlate most with `new`'s, if any has enough."""
    best = None
    for name, closes in candidates.items():
        levels, first = _last_common(new, closes)
        if len(levels) <= STRANGER_MIN_RETURNS:
            continue
        moves = np.diff(np.log(levels), axis=0)
        if np.std(moves[:, 0]) == 0 or np.std(moves[:, 1]) == 0:
            continue
        correlation = float(np.corrcoef(moves[:, 0], moves[:, 1])[0, 1])
        if best is None or correlation > best[1]:
            best = (name, correlation, first, len(moves))
    return best


def _last_common(new: pd.Series, other: pd.Series) -> tuple[np.ndarray, pd.Timestamp | None]:
    """The last STRANGER_RETURNS + 1 dates both have a positive value on, as (new, other)
    columns, and the first of those dates. Two sorted, unique indexes of one dtype (a first
    import's files) are joined with numpy; anything else as pandas joins them."""
    plain = all(s.index.is_monotonic_increasing and s.index.is_unique for s in (new, other))
    if not plain or new.index.dtype != other.index.dtype:
        both = pd.concat([new.rename("new"), other.rename("other")], axis=1, join="inner")
        both = both[(both["new"] > 0) & (both["other"] > 0)].dropna().iloc[-STRANGER_RETURNS - 1 :]
        return both.to_numpy(dtype=np.float64), both.index[0] if len(both) else None
    _, at_new, at_other = np.intersect1d(
        new.index.to_numpy(), other.index.to_numpy(), assume_unique=True, return_indices=True
    )
    levels = np.column_stack(
        [new.to_numpy(dtype=np.float64)[at_new], other.to_numpy(dtype=np.float64)[at_other]]
    )
    kept = np.flatnonzero((levels > 0).all(axis=1))[-STRANGER_RETURNS - 1 :]
    return levels[kept], new.index[at_new[kept[0]]] if len(kept) else None


def judge_twin(rate: pd.Series, twin: pd.Series) -> dict[pd.Timestamp, Verdict]:
    """Points of `rate` that part from `twin` (the same instrument from another source, in %).

    Held while the parting is the newest data, discarded once a later common date agrees.
    """
    both = pd.concat([rate.rename("rate"), twin.rename("twin")], axis=1, join="inner").dropna()
    if len(both) <= TWIN_BASE:
        return {}
    bps = both * 100
    spread = bps["rate"] - bps["twin"]
    parted_by = spread - spread.rolling(TWIN_BASE).median().shift(1)
    twin_moved = bps["twin"] - bps["twin"].rolling(TWIN_BASE).median().shift(1)
    parted = (parted_by.abs() >= TWIN_PARTED_BPS) & (twin_moved.abs() < parted_by.abs() / 2)
    agreeing = both.index[~parted.to_numpy()]
    verdicts = {}
    for day in both.index[parted.to_numpy()]:
        status = DISCARDED if agreeing[-1] > day else SUSPECT
        note = (
            f"{rate.name} {both.at[day, 'rate']:g} on {day.date()} is {parted_by[day]:+.0f} bps "
            f"from its usual spread to {twin.name} ({both.at[day, 'twin']:g}), which did not "
            "move: the same instrument from two sources disagrees"
        )
        verdicts[day] = Verdict(status, note)
    return verdicts


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


def judge_drift(
    values: pd.Series,
    linked: Mapping[str, pd.Series],
    limit: float,
    window: int = DRIFT_WINDOW,
) -> dict[pd.Timestamp, Verdict]:
    """The bars of a slow ramp its linked instruments do not share (each day below the jump
    floor, together far beyond it).

    `values` and `linked` are positive prices; `limit` a log move (the jump floor). Over
    `window` bars the symbol's move minus the median of its linked instruments' never passed
    6.7 % anywhere in the shared history since 2000; beyond `limit`, the bars from where the
    drift began are held while it lasts, and discarded once the level is back with them. A
    stretch with one day beyond `limit` is a jump, left to `judge_prices`.
    """
    levels, others = _aligned_logs(values, linked)
    if others.empty or len(levels) <= window:
        return {}
    data = levels.to_numpy()
    apart = levels.diff(window).to_numpy()[:, None] - others.diff(window).to_numpy()
    # A one-day jump (of the symbol or a linked instrument) is judge_prices' to follow.
    jumps = pd.concat([levels.diff().abs(), others.diff().abs()], axis=1) > limit
    jumpy = jumps.rolling(window + 1, min_periods=1).max().to_numpy(dtype=bool)
    apart = np.where(jumpy[:, 1:] | jumpy[:, :1], np.nan, apart)
    verdicts: dict[pd.Timestamp, Verdict] = {}
    judged_to = -1
    for first in np.flatnonzero(_outvoted(apart, limit)):
        if first <= judged_to:
            continue
        sign = np.sign(np.nanmedian(apart[first]))
        base = _drift_base(data, others, first - window, first, sign)
        stretch = _drift_stretch(levels, others, base, first, sign, limit)
        verdicts.update(stretch)
        judged_to = max(first, levels.index.get_indexer([max(stretch)])[0])
    return verdicts


def _aligned_logs(
    values: pd.Series, linked: Mapping[str, pd.Series]
) -> tuple[pd.Series, pd.DataFrame]:
    """Log prices of the symbol, and of its linked instruments on the symbol's dates."""
    clean = _positive(values, repeats_first=False).sort_index()
    levels = pd.Series(np.log(clean.to_numpy(dtype=np.float64)), index=clean.index)
    columns = {}
    for name, series in linked.items():
        other = _positive(series, repeats_first=True)
        columns[name] = np.log(values_on(other, levels.index))  # NaN stays NaN
    return levels, pd.DataFrame(columns, index=levels.index).dropna(axis=1, how="all")


def _positive(series: pd.Series, *, repeats_first: bool) -> pd.Series:
    """The positive values on dates the series has once. A unique index (the usual case,
    which pandas caches) needs no search for repeats; otherwise repeated dates are dropped
    after the NaN, and before the non-positive values with `repeats_first` (as each caller
    always did)."""
    if series.index.is_unique:
        return series[series > 0]  # NaN is not > 0
    clean = series.dropna()
    if repeats_first:
        return clean[(clean > 0) & ~clean.index.duplicated(keep=False)]
    clean = clean[clean > 0]
    return clean[~clean.index.duplicated(keep=False)]


def _outvoted(apart: np.ndarray, limit: float) -> np.ndarray:
    """Per bar, whether at least two linked instruments, and more than not, are over `limit`
    apart (against one alone, which of the two drifted cannot be told; a bad batch hitting
    one of them too is outvoted by the others)."""
    present = ~np.isnan(apart)
    far = np.abs(np.nan_to_num(apart)) > limit
    votes = far.sum(axis=1)
    return (votes >= 2) & (votes > (present & ~far).sum(axis=1))


def _cumulative(data: np.ndarray, others: pd.DataFrame, base: int, end: int) -> np.ndarray:
    """The symbol's move since `base` minus each linked instrument's, bars base..end."""
    part = others.iloc[base : end + 1]
    theirs = (part - part.iloc[0]).to_numpy()
    # From its first one-day jump on, a linked instrument has no say (judge_prices' case).
    steps = np.abs(np.diff(part.to_numpy(), axis=0, prepend=np.nan))
    jumped = np.maximum.accumulate(np.nan_to_num(steps) > JUMP_FOR_DRIFT, axis=0)
    theirs = np.where(jumped.astype(bool), np.nan, theirs)
    return (data[base : end + 1] - data[base])[:, None] - theirs


def _drift_base(data: np.ndarray, others: pd.DataFrame, start: int, first: int, sign: float) -> int:
    """The bar the drift grew from: the last one near its lowest before `first` (tracking
    noise of a tenth of the limit apart)."""
    path = np.nanmedian(sign * _cumulative(data, others, start, first), axis=1)[:-1]
    low = np.nanmin(path)
    return start + int(np.flatnonzero(path <= low + BASE_NOISE)[-1])


def _drift_stretch(
    levels: pd.Series,
    others: pd.DataFrame,
    base: int,
    first: int,
    sign: float,
    limit: float,
) -> dict[pd.Timestamp, Verdict]:
    """Hold from the bar after `base` until the drift is back under half `limit`."""
    data = levels.to_numpy()
    apart = sign * _cumulative(data, others, base, len(data) - 1)
    after = first - base
    back = np.flatnonzero(~_outvoted(apart[after:], limit / 2))
    end = len(data) if len(back) == 0 else first + int(back[0])
    status = SUSPECT if len(back) == 0 else DISCARDED
    size = math.expm1(float(sign * np.nanmedian(apart[after]))) * 100
    note = (
        f"a slow drift of {size:+.1f} % from {levels.index[base + 1].date()} that "
        f"{', '.join(others.columns)} do not share"
    )
    return {levels.index[at]: Verdict(status, note) for at in range(base + 1, end)}

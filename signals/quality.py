"""Judge price bars and rate points before any rule may read them: pandas in, verdicts out.

Two kinds of check. `value_problem` refuses a value no market can print (NaN, infinite, zero or
negative prices, absurd magnitudes, rates outside plausible levels). `judge_prices` and
`judge_rates` look at moves: a move far outside the instrument's own recent volatility AND
beyond a floor AND not matched by a linked instrument (IWM with ^RUT, ...) is implausible.
A level reached by an implausible move is confirmed by agreement, never by the same feed
repeating itself: from that bar on, each bar's level (its move since the last bar before the
jump) is compared with the same move of every linked instrument that has a value that day.
More linked instruments moving alike than not (a bad batch hitting ^RUT and IWM together is
one for, IWC and IJR two against) *confirms* it; the level coming back (less than a fifth of
the move kept) *discards* every bar of the stretch; until one of the two, every bar from the
jump on stays *suspect*, however long it lasts (a person may accept it). A symbol with no
linked instrument holding data over the stretch (before its ETFs were listed, a rate) keeps the
older rule: the next bar decides, confirmed when it keeps more than a fifth of the move.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from signals.dates import values_on
from signals.statuses import (  # noqa: F401 - the statuses are named here too
    ACCEPTED,
    CONFIRMED,
    DISCARDED,
    OK,
    REJECTED,
    SUSPECT,
    USABLE,
)

# Yahoo symbols quoted as a yield in percent, not as a price (zero and negative are possible).
RATE_SYMBOLS = frozenset({"^IRX", "^FVX", "^TNX", "^TYX"})
# Series that are positive ratios, not rates: P/E snapshots (pe:IWM) and the French library's
# price-to-book measures (ff:pb_small_vs_large). Their values are bounded, their moves not judged.
RATIO_PREFIXES = ("pe:", "ff:")
# No index, ETF or share trades at ten million a unit; a value beyond is a broken feed (1e300).
ABSURD_PRICE = 1e7
# Rates in percent: the Fed funds rate peaked at 22 % (1981), no policy rate went below -1 %.
RATE_BOUNDS = (-5.0, 30.0)
# A bad tick is undone by the next bar; a real crash keeps more than this share of its move even
# when it rebounds (^RUT on 1987-10-20 kept 22 %).
REVERTED = 0.2
# Bars over which a move that puts a symbol back in line with its links is seen as a correction.
RESTORE_WINDOW = 10
# Split ratios (new shares : old) a level shift is compared with, and how close (log) it must be.
SPLIT_RATIOS = ((2, 1), (3, 1), (4, 1), (5, 1), (10, 1), (3, 2), (1, 2), (1, 3), (1, 5), (1, 10))
SPLIT_MATCH = 0.01
# Robust volatility: the median absolute move times this estimates one standard deviation.
_MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds of the move checks (see README "Data quality"; set through Settings)."""

    window: int = 60  # sessions of history that set a symbol's typical move
    min_history: int = 20  # moves needed before a symbol's volatility is trusted
    sigmas: float = 10.0  # implausible: beyond this many typical moves ...
    floor_pct: float = 8.0  # ... and beyond this many percent (log move)
    match_ratio: float = 0.4  # a linked move in the same direction this large confirms it
    links: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    rate_jump_bps: float = 75.0  # a rate moving more than this in one point is suspect
    hold_series: tuple[str, ...] = ("DFEDTARU", "DFEDTARL")  # any change must hold a point
    # Spikes that revert are the nature of these (a volatility index, an overnight average):
    # only their values are checked, never their moves.
    exempt: tuple[str, ...] = ("^VIX", "DFF")


@dataclass(frozen=True)
class Verdict:
    """The status of one bar and why (empty for a normal bar)."""

    status: str
    note: str = ""


def link_groups(groups: Sequence[Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """Every member of a group linked to every other member (`^RUT IWM IWC IJR`)."""
    links: dict[str, list[str]] = {}
    for group in groups:
        for symbol in group:
            others = links.setdefault(symbol, [])
            others.extend(s for s in group if s != symbol and s not in others)
    return {symbol: tuple(others) for symbol, others in links.items()}


def is_ratio_series(series_id: str) -> bool:
    """Whether a stored series is a positive ratio (P/E, P/B) rather than a rate in percent."""
    return series_id.lower().startswith(RATIO_PREFIXES)


def value_problem(value: float | None, column: str, *, rate: bool = False) -> str | None:
    """Why `value` can never be a stored price (or rate), or None when it can be."""
    if value is None:
        return None
    if not math.isfinite(value):
        return f"{column} {value} is not a finite number"
    if column == "volume":
        return f"volume {value:g} is negative" if value < 0 else None
    if rate:
        low, high = RATE_BOUNDS
        if not low <= value <= high:
            return f"{column} {value:g} % is outside plausible rates ({low:g} to {high:g} %)"
        return None
    if value <= 0:
        return f"{column} {value:g} is not a positive price"
    if value >= ABSURD_PRICE:
        return f"{column} {value:g} is absurdly large"
    return None


def judge_prices(
    values: pd.Series,
    linked: Mapping[str, pd.Series],
    config: QualityConfig,
    keep: Mapping[pd.Timestamp, str] | None = None,
) -> dict[pd.Timestamp, Verdict]:
    """Verdicts for the implausible bars of one positive price column (others are normal).

    `values` is one column of one symbol, oldest first; `linked` the same column of its
    linked instruments; `keep` the dates a person has accepted or rejected (never judged).
    """
    clean = values.dropna()
    clean = clean[clean > 0]
    keep = keep or {}
    rejected = [day for day, status in keep.items() if status == REJECTED]
    clean = clean.drop(index=[d for d in rejected if d in clean.index])
    levels = {name: _log_levels(series) for name, series in linked.items()}
    return _judge(_log_levels(clean), config, config.floor_pct / 100.0, keep, levels, "%")


def judge_rates(
    values: pd.Series, config: QualityConfig, *, hold: bool = False
) -> dict[pd.Timestamp, Verdict]:
    """Verdicts for the implausible points of a rate in percent (jumps measured in bps).

    With `hold` (the Fed target) every change is suspect until the next point holds it.
    """
    clean = values.dropna().astype("float64")
    floor = 0.0 if hold else config.rate_jump_bps / 100.0
    sigmas = 0.0 if hold else config.sigmas
    return _judge(clean, config, floor, {}, {}, "bps", sigmas=sigmas)


def _log_levels(series: pd.Series) -> pd.Series:
    if series.index.is_unique:  # the usual case (pandas caches it): no search for repeats
        clean = series[series > 0]  # NaN is not > 0
    else:
        clean = series.dropna()
        clean = clean[clean > 0]
        clean = clean[~clean.index.duplicated(keep=False)]
    clean = clean.sort_index()
    return pd.Series(np.log(clean.to_numpy(dtype=np.float64)), index=clean.index)


def _judge(
    levels: pd.Series,
    config: QualityConfig,
    floor: float,
    keep: Mapping[pd.Timestamp, str],
    linked: Mapping[str, pd.Series],
    unit: str,
    sigmas: float | None = None,
) -> dict[pd.Timestamp, Verdict]:
    """Walk the moves beyond the floor in order; each is compared with the last bar kept.

    Only moves beyond the floor (rare) get their typical move computed, which keeps a whole
    history cheap to judge again after every import or refresh.
    """
    sigmas = config.sigmas if sigmas is None else sigmas
    data = levels.to_numpy(dtype=np.float64)
    sizes = np.abs(np.diff(data, prepend=np.nan))
    candidates = np.flatnonzero(np.nan_to_num(sizes, nan=0.0) > floor)
    verdicts: dict[pd.Timestamp, Verdict] = {}
    discarded: set[int] = set()
    judged_to = -1  # bars up to here belong to a stretch already judged
    aligned: dict[str, np.ndarray] = {}  # each linked instrument on these dates, once
    typicals = _typical_moves(sizes, candidates, config) if sigmas else np.zeros(len(candidates))
    for position, typical in zip(candidates, typicals.tolist(), strict=True):
        # Cheapest first: a move inside a stretch already judged needs no typical move (a
        # median) and no date (a Timestamp made), and most have none to keep.
        if position <= judged_to or (keep and levels.index[position] in keep):
            continue
        base = _previous_kept(position, discarded)
        move = data[position] - data[base]
        if not _beyond(move, typical, floor, sigmas):
            continue
        stretch = _follow(levels, position, base, linked, config.match_ratio, unit, aligned)
        for at, verdict in stretch.items():
            verdicts[levels.index[at]] = verdict
            if verdict.status == DISCARDED:
                discarded.add(at)
        judged_to = max(stretch, default=judged_to)
    return verdicts


def _follow(
    levels: pd.Series,
    position: int,
    base: int,
    linked: Mapping[str, pd.Series],
    ratio: float,
    unit: str,
    aligned: dict[str, np.ndarray] | None = None,
) -> dict[int, Verdict]:
    """The verdicts of the stretch a suspect move at `position` opens (empty: it is shared)."""
    data = levels.to_numpy(dtype=np.float64)
    move = data[position] - data[base]
    kept = (data[position:] - data[base]) / move  # 1: the level holds, 0: it is undone
    agreed, counted = _agreement(levels, position, base, linked, ratio, aligned)
    if not counted.any():  # nothing to agree with: the next bar decides, as it always did
        return {position: _settle(data, position, move, unit)}
    if agreed[0] or _restores(levels, position, linked, move):
        return {}
    split = split_ratio(move) if unit == "%" else None
    size, day = _describe(move, unit), levels.index[position].date()
    names = ", ".join(linked)
    decided = np.flatnonzero((kept <= REVERTED) | agreed)
    if len(decided) == 0:
        note = (
            f"{size} on {day}{split or ''}: a level {names} do not share (held until they do "
            "or accepted)"
        )
        return {at: Verdict(SUSPECT, note) for at in range(position, len(data))}
    end = int(decided[0])
    when = levels.index[position + end].date()
    if kept[end] <= REVERTED:
        note = f"{size} on {day} that {names} did not share, undone on {when}"
        return {at: Verdict(DISCARDED, note) for at in range(position, position + end)}
    return {position: Verdict(CONFIRMED, f"{size} shared by {names} by {when}")}


def _restores(
    levels: pd.Series, position: int, linked: Mapping[str, pd.Series], move: float
) -> bool:
    """True when the move brings the symbol back in line with most linked instruments over the
    last `RESTORE_WINDOW` bars (the end of a ramp or frozen run that the move check missed in
    this column): what was wrong is the level before it."""
    start = max(position - RESTORE_WINDOW, 0)
    data = levels.to_numpy(dtype=np.float64)
    mine = data[position] - data[start]
    first, day = levels.index[start], levels.index[position]
    votes = 0
    for other in linked.values():
        if not len(other) or other.index[0] > first or day not in other.index:
            continue
        theirs = float(other[day]) - float(other.asof(first))
        votes += 1 if abs(mine - theirs) < abs(move) / 2 else -1
    return votes > 0


def _agreement(
    levels: pd.Series,
    position: int,
    base: int,
    linked: Mapping[str, pd.Series],
    ratio: float,
    aligned: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per bar from `position`, whether more linked instruments share its level than not.

    An instrument shares it when its own move since the base bar's date goes the same way
    by at least `ratio` of the symbol's; only instruments with a value on both dates count.
    Also returns, per bar, whether any instrument counted. `aligned` keeps each instrument
    reindexed on the symbol's (unique) dates across the moves of one judgement.
    """
    data = levels.to_numpy(dtype=np.float64)
    moves = data[position:] - data[base]
    base_day = levels.index[base]
    votes = np.zeros(len(moves))
    counted = np.zeros(len(moves), dtype=bool)
    aligned = {} if aligned is None else aligned
    for name, other in linked.items():
        start = other.asof(base_day) if len(other) and other.index[0] <= base_day else np.nan
        if name not in aligned:
            aligned[name] = values_on(other, levels.index)
        theirs = aligned[name][position:] - start
        present = ~np.isnan(theirs)
        alike = present & (theirs * moves > 0) & (np.abs(theirs) >= ratio * np.abs(moves))
        votes += np.where(alike, 1.0, np.where(present, -1.0, 0.0))
        counted |= present
    return votes > 0, counted


def _typical_moves(sizes: np.ndarray, positions: np.ndarray, config: QualityConfig) -> np.ndarray:
    """Per position, one robust standard deviation of the `window` moves before it (NaN if too
    few): their median, taken at once for every position from the sorted windows (a median
    per move cost a sixth of a first import's review)."""
    window = config.window
    padded = np.concatenate([np.full(window, np.nan), sizes])
    rows = np.sort(np.lib.stride_tricks.sliding_window_view(padded, window)[positions], axis=1)
    counts = (~np.isnan(rows)).sum(axis=1)  # NaN sorts last: the moves come first
    at = np.arange(len(rows))
    low = rows[at, np.maximum(counts - 1, 0) // 2]
    high = rows[at, np.minimum(counts // 2, window - 1)]
    middle = np.where(counts % 2 == 1, high, (low + high) / 2)  # as np.median takes it
    return np.where(counts < config.min_history, np.nan, middle * _MAD_TO_SIGMA)


def _beyond(move: float, typical: float, floor: float, sigmas: float) -> bool:
    if sigmas and not math.isfinite(typical):
        return False  # too little history to know what is normal for this symbol yet
    return abs(move) > max(floor, sigmas * typical)


def _previous_kept(position: int, discarded: set[int]) -> int:
    base = position - 1
    while base in discarded:
        base -= 1
    return base


def _settle(data: np.ndarray, position: int, move: float, unit: str) -> Verdict:
    """Suspect while newest; confirmed when the next bar holds the level, else discarded."""
    size = _describe(move, unit)
    if position + 1 >= len(data):
        return Verdict(SUSPECT, f"{size} with no linked instrument moving alike")
    # How much of the move the next bar keeps: 1 holds it, above 1 extends it, 0 undoes it.
    kept = (data[position + 1] - (data[position] - move)) / move
    if kept > REVERTED:
        return Verdict(CONFIRMED, f"{size} held by the next session")
    return Verdict(DISCARDED, f"{size} reverted by the next session")


def split_ratio(move: float) -> str | None:
    """`, the ratio of a 2:1 split` when a log move matches a split (none adjusts it away)."""
    for new, old in SPLIT_RATIOS:
        if abs(move - math.log(old / new)) < SPLIT_MATCH:
            return f", the ratio of a {new}:{old} split (prices are split-adjusted)"
    return None


def _describe(move: float, unit: str) -> str:
    if unit == "bps":
        return f"one-day jump of {move * 100:+.0f} bps"
    return f"one-day move of {math.expm1(move) * 100:+.1f} %"

"""A series dated one session off (issue 19): a feed's time zone slip moves every date by one.

Pure, like `signals.shapes`. Every date is still a session and no single move is odd; only the
moves now line up with the linked instruments' moves of the next (or the previous) session
instead of the same one. Over a window of SHIFT_WINDOW sessions the correlation of the daily
moves with each linked instrument's is compared at lag 0 and at lag ±1: when most links (two at
least) follow one session apart far better than on the same session, the stretch is dated a
session off. It runs from where the agreement turned (the change point of the running
difference, one bar wider on each side: the bar at a slip moved over two sessions), and its
bars are held while it is the newest data, discarded once it ends.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from signals.dates import positions_in
from signals.quality import DISCARDED, SUSPECT, Verdict

# Sessions per window, and how many real pairs of moves a window needs to say anything.
SHIFT_WINDOW = 60
SHIFT_MIN_PAIRS = 40
# A shifted window: the moves follow a link a session apart at SHIFT_MIN_CORRELATION or more,
# and better than the same session's by SHIFT_MARGIN. On real data a linked instrument's moves
# one session apart never correlate past 0.52 over a window (every linked pair of the shared
# history since 1927, Close and Adj Close), while a shift of IWM makes it 0.9 or more.
SHIFT_MIN_CORRELATION = 0.8
SHIFT_MARGIN = 0.5
# A linked instrument's one-day move past this (log) is left out (a bad bar is judge_prices').
SHIFT_JUMP = 0.25

_WORDS = {1: ("early", "later"), -1: ("late", "earlier")}
# Every note of this check has it: a review recognises the verdict by it.
SHIFT_QUESTION = ": dated a session "


def judge_session_shift(
    values: pd.Series, linked: Mapping[str, pd.Series], window: int = SHIFT_WINDOW
) -> dict[pd.Timestamp, Verdict]:
    """The bars of every stretch of `values` dated one session off against its `linked`
    instruments (positive prices, indexed by date)."""
    moves, theirs = _aligned_moves(values, linked)
    if theirs.shape[1] < 2 or len(moves) <= window:
        return {}
    own = moves.to_numpy()
    same = _rolling_correlation(own, theirs.to_numpy(), window)
    verdicts: dict[pd.Timestamp, Verdict] = {}
    for lag in (1, -1):
        apart = _rolling_correlation(own, theirs.shift(-lag).to_numpy(), window)
        best = pd.DataFrame(apart, index=theirs.index, columns=theirs.columns)
        for first, last in _runs(_shifted_windows(same, apart)):
            verdicts |= _stretch(moves, theirs, lag, (first, last, window), best)
    return verdicts


def _aligned_moves(
    values: pd.Series, linked: Mapping[str, pd.Series]
) -> tuple[pd.Series, pd.DataFrame]:
    """Daily log moves of the symbol, and of each linked instrument between the same dates,
    from the first date two linked instruments have one (numpy: this runs for every linked
    symbol and both price columns of a first import)."""
    clean = _once_positive(values).sort_index()
    moves = _capped(np.diff(np.log(clean.to_numpy(dtype=np.float64)), prepend=np.nan))
    columns = {}
    for name, series in linked.items():
        other = _once_positive(series)
        if other.empty:
            continue
        at = positions_in(other.index, clean.index)
        logs = np.log(other.to_numpy(dtype=np.float64))
        column = _capped(np.diff(np.where(at >= 0, logs[at], np.nan), prepend=np.nan))
        if not np.isnan(column).all():
            columns[name] = column
    counts = sum((~np.isnan(c)).astype(np.int64) for c in columns.values())
    # Nothing can be told before two links trade (^GSPC since 1927, its ETFs since 1993).
    judged = np.flatnonzero(np.asarray(counts) >= 2) if columns else np.array([], dtype=int)
    first = int(judged[0]) if len(judged) else len(moves)
    index = clean.index[first:]
    theirs = pd.DataFrame({n: c[first:] for n, c in columns.items()}, index=index)
    return pd.Series(moves[first:], index=index), theirs


def _once_positive(series: pd.Series) -> pd.Series:
    """The positive values on dates the series has once."""
    positive = series[series > 0]  # NaN is not > 0
    if positive.index.is_unique:
        return positive
    return positive[~positive.index.duplicated(keep=False)]


def _capped(moves: np.ndarray) -> np.ndarray:
    """Moves past SHIFT_JUMP left out (NaN)."""
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(moves) <= SHIFT_JUMP, moves, np.nan)


def _rolling_correlation(own: np.ndarray, theirs: np.ndarray, window: int) -> np.ndarray:
    """Per window end and column of `theirs`, the correlation of the pairs both have a move in
    over the last `window` rows (NaN under SHIFT_MIN_PAIRS pairs or without variation).

    Window sums from cumulative sums: pandas' rolling corr per column cost a tenth of a first
    import."""
    both = ~np.isnan(theirs) & ~np.isnan(own)[:, None]
    x = np.where(both, own[:, None], 0.0)
    y = np.where(both, theirs, 0.0)
    count, sx, sy, sxx, syy, sxy = (
        _window_sums(v, window) for v in (both.astype(np.float64), x, y, x * x, y * y, x * y)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.sqrt((sxx - sx * sx / count) * (syy - sy * sy / count))
        correlation = (sxy - sx * sy / count) / spread
    correlation[~(count >= SHIFT_MIN_PAIRS) | ~(spread > 1e-12)] = np.nan
    return correlation


def _window_sums(values: np.ndarray, window: int) -> np.ndarray:
    """Per row, the column sums of the last `window` rows (NaN before the first full window)."""
    running = np.cumsum(np.vstack([np.zeros((1, values.shape[1])), values]), axis=0)
    sums = np.full(values.shape, np.nan)
    sums[window - 1 :] = running[window:] - running[:-window]
    return sums


def _shifted_windows(same: np.ndarray, apart: np.ndarray) -> np.ndarray:
    """Per window end, whether most links (two at least) follow a session apart (`apart`, the
    correlations at that lag) far better than on the same session (`same`)."""
    with np.errstate(invalid="ignore"):
        shifted = (apart >= SHIFT_MIN_CORRELATION) & (apart >= same + SHIFT_MARGIN)
    present = (~np.isnan(apart) & ~np.isnan(same)).sum(axis=1)
    votes = shifted.sum(axis=1)
    return (votes >= 2) & (2 * votes > present)


def _runs(flagged: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) positions of each run of True."""
    edges = np.diff(np.r_[0, flagged.astype(np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True))


def _stretch(
    moves: pd.Series,
    theirs: pd.DataFrame,
    lag: int,
    run: tuple[int, int, int],
    apart: pd.DataFrame,
) -> dict[pd.Timestamp, Verdict]:
    """The bars of one run of shifted windows, from the change point to where it ends."""
    first, last, window = run
    gain = _agreement_gain(moves, theirs, lag)
    running = np.r_[0.0, np.cumsum(gain)]
    # The bar at each edge moved over two sessions (half agrees with either date): held too.
    low = max(first - window + 1, 0)
    start = max(low + int(np.argmin(running[low : first + 1])) - 1, 0)
    end = len(moves) - 1
    if last < end:  # the shift ended: where the agreement turned back
        low = max(last - window + 2, start + 1)  # the last flagged window holds the end
        end = min(low + int(np.argmax(running[low : last + 2])), end)
    status = SUSPECT if end >= len(moves) - 1 else DISCARDED
    followed = apart.iloc[first : last + 1].max() >= SHIFT_MIN_CORRELATION
    names = [str(name) for name in theirs.columns[followed.to_numpy()]]
    early, later = _WORDS[lag]
    note = (
        f"its closes from {moves.index[start].date()} follow {'/'.join(names)} one session "
        f"{later}{SHIFT_QUESTION}{early}?"
    )
    return {moves.index[at]: Verdict(status, note) for at in range(start, end + 1)}


def _agreement_gain(moves: pd.Series, theirs: pd.DataFrame, lag: int) -> np.ndarray:
    """Per bar, how much better its move agrees with the links' `lag` sessions apart than on
    the same session (standardised products, median over the links)."""
    scale = moves.std()
    own = (moves / scale).to_numpy()[:, None]
    normal = (theirs / theirs.std()).to_numpy()
    shifted = (theirs.shift(-lag) / theirs.std()).to_numpy()
    gain = pd.DataFrame(own * shifted - own * normal).median(axis=1)  # NaN where no link has one
    return np.nan_to_num(gain.to_numpy())

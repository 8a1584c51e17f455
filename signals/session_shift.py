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


def judge_session_shift(
    values: pd.Series, linked: Mapping[str, pd.Series], window: int = SHIFT_WINDOW
) -> dict[pd.Timestamp, Verdict]:
    """The bars of every stretch of `values` dated one session off against its `linked`
    instruments (positive prices, indexed by date)."""
    moves, theirs = _aligned_moves(values, linked)
    if theirs.shape[1] < 2 or len(moves) <= window:
        return {}
    verdicts: dict[pd.Timestamp, Verdict] = {}
    for lag in (1, -1):
        flagged, best = _shifted_windows(moves, theirs, lag, window)
        for first, last in _runs(flagged):
            verdicts |= _stretch(moves, theirs, lag, (first, last, window), best)
    return verdicts


def _aligned_moves(
    values: pd.Series, linked: Mapping[str, pd.Series]
) -> tuple[pd.Series, pd.DataFrame]:
    """Daily log moves of the symbol, and of each linked instrument between the same dates."""
    clean = values[values > 0].sort_index()
    clean = clean[~clean.index.duplicated(keep=False)]
    levels = np.log(clean.astype("float64"))
    columns = {}
    for name, series in linked.items():
        other = series[series > 0]
        other = other[~other.index.duplicated(keep=False)]
        columns[name] = np.log(other.astype("float64")).reindex(levels.index).diff()
    theirs = pd.DataFrame(columns, index=levels.index).dropna(axis=1, how="all")
    theirs = theirs.where(theirs.abs() <= SHIFT_JUMP)
    moves = levels.diff()
    return moves.where(moves.abs() <= SHIFT_JUMP), theirs


def _shifted_windows(
    moves: pd.Series, theirs: pd.DataFrame, lag: int, window: int
) -> tuple[np.ndarray, pd.DataFrame]:
    """Per window end, whether most links (two at least) follow `lag` sessions apart; and the
    correlations at that lag."""
    same = theirs.rolling(window, min_periods=SHIFT_MIN_PAIRS).corr(moves)
    apart = theirs.shift(-lag).rolling(window, min_periods=SHIFT_MIN_PAIRS).corr(moves)
    shifted = (apart >= SHIFT_MIN_CORRELATION) & (apart >= same + SHIFT_MARGIN)
    present = (apart.notna() & same.notna()).sum(axis=1).to_numpy()
    votes = shifted.sum(axis=1).to_numpy()
    return (votes >= 2) & (2 * votes > present), apart


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
        f"{later}: dated a session {early}?"
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

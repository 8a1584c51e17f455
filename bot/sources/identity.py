"""A fetched answer holding another symbol's prices is refused whole (issue 19, item 4).

`prices import` refuses such a file (`bot/cli/prices_data.py`); a source's answer goes through
`refresh_prices`, which calls `refuse_strangers` once, after the screen of unstorable bars, on
every answer: the incremental one, the first fetch of a symbol and the whole history fetched
again after a re-base (another symbol's closes look like a new basis, so that is where a
mix-up of a cached symbol shows). The same pure judgements as a file's: `signals/shapes.py`
`identity_problem` against the symbol's stored closes, `stranger_problem` against its linked
instruments when nothing is stored yet. Every refusal is one line (`refusal`): the symbol,
the source, the symbol whose prices the answer looks like (`look_alike`), why, what to do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from bot.sources.base import FetchResult
from signals.models import PriceBar
from signals.shapes import (
    IDENTITY_OVERLAP,
    IDENTITY_SHARE,
    IDENTITY_TOLERANCE,
    STRANGER_MIN_CORRELATION,
    STRANGER_MIN_RETURNS,
    STRANGER_RETURNS,
    identity_problem,
    stranger_problem,
)
from storage.db import Store
from storage.prices import last_dates, load_prices

# How a source is named in a refusal (its `name` otherwise).
SOURCE_NAMES = {"yahoo": "Yahoo", "csv": "the CSV folder"}
_QUESTION = ": another symbol's prices?"  # the judgements' ending; the refusal says whose


def refuse_strangers(db: Store, result: FetchResult, links: Mapping[str, tuple[str, ...]]) -> None:
    """Move every symbol whose bars are another symbol's from `result.bars` to its failures."""
    cached = set(last_dates(db, final_only=False))
    closes = {symbol: closes_of(bars) for symbol, bars in result.bars.items()}
    problems = _strangers(db, closes, cached, links)
    problems.update(_mismatches(db, closes, cached))
    if not problems:
        return
    known = _known_closes(db, closes, cached, problems)
    for symbol, problem in problems.items():
        others = {name: other for name, other in known.items() if name != symbol}
        source = result.bars.pop(symbol)[0].source
        result.failures[symbol] = refusal(
            symbol, source, problem, look_alike(closes[symbol], others)
        )


def refusal(symbol: str, source: str, problem: str, alike: str | None) -> str:
    """The one line a refused answer gets, on every path that fetches."""
    named = SOURCE_NAMES.get(source, source)
    whose = f"{alike}'s" if alike else "another symbol's"
    why = problem.removesuffix(_QUESTION)
    return (
        f"refused {named}'s answer for {symbol}, which looks like {whose} prices: {why}; "
        f"nothing stored: check which symbol {named} was sent for {symbol}"
    )


def _strangers(
    db: Store,
    closes: dict[str, pd.Series],
    cached: set[str],
    links: Mapping[str, tuple[str, ...]],
) -> dict[str, str]:
    """First fetches (nothing stored) whose moves follow another group's symbol."""
    fresh = [s for s in closes if s not in cached and s in links]
    if not fresh:
        return {}
    known = dict(closes)
    grouped = set(links).union(*links.values()) - set(known)
    for symbol, frame in load_prices(db, sorted(grouped)).items():
        known[symbol] = frame["close"]
    problems = {}
    for symbol in fresh:
        own = set(links[symbol])
        mine = {s: c for s, c in known.items() if s in own}
        others = {s: c for s, c in known.items() if s not in own and s != symbol}
        problem = stranger_problem(known[symbol], mine, others)
        if problem is not None:
            problems[symbol] = problem
    return problems


def _mismatches(db: Store, closes: dict[str, pd.Series], cached: set[str]) -> dict[str, str]:
    """Fetches long enough to compare (a refetch) whose closes are not the stored ones."""
    long = [s for s, c in closes.items() if s in cached and len(c) >= IDENTITY_OVERLAP]
    if not long:
        return {}
    stored = load_prices(db, long, usable_only=False)
    found = {s: identity_problem(closes[s], stored[s]["close"]) for s in long if s in stored}
    return {symbol: problem for symbol, problem in found.items() if problem is not None}


def _known_closes(
    db: Store, closes: dict[str, pd.Series], cached: set[str], refused: Mapping[str, str]
) -> dict[str, pd.Series]:
    """What a refused answer may be: the other answers, and every stored symbol's closes over
    the refused answers' dates (read only when something is refused)."""
    start = min(closes[symbol].index.min() for symbol in refused).date()
    stored = load_prices(db, sorted(cached), start=start)
    return {symbol: frame["close"] for symbol, frame in stored.items()} | closes


def look_alike(closes: pd.Series, candidates: Mapping[str, pd.Series]) -> str | None:
    """The candidate whose prices `closes` are: the most of its closes within
    IDENTITY_TOLERANCE on IDENTITY_OVERLAP common dates or more (more than IDENTITY_SHARE of
    them), else the one whose daily moves follow them best at STRANGER_MIN_CORRELATION or
    more; None when none does."""
    shares = {name: _share_alike(closes, other) for name, other in candidates.items()}
    best = max(shares, key=shares.__getitem__, default=None)
    if best is not None and shares[best] > IDENTITY_SHARE:
        return best
    follow = {name: _correlation(closes, other) for name, other in candidates.items()}
    best = max(follow, key=follow.__getitem__, default=None)
    return best if best is not None and follow[best] >= STRANGER_MIN_CORRELATION else None


def _common(new: pd.Series, other: pd.Series) -> np.ndarray:
    """(new, other) closes on the dates both have a positive one, oldest first."""
    both = pd.concat([new.rename("new"), other.rename("other")], axis=1, join="inner")
    both = both[(both["new"] > 0) & (both["other"] > 0)].dropna().sort_index()
    return both.to_numpy(dtype=np.float64)


def _share_alike(new: pd.Series, other: pd.Series) -> float:
    """The share of common dates where the closes are within IDENTITY_TOLERANCE (0 when
    fewer than IDENTITY_OVERLAP dates are common)."""
    levels = _common(new, other)
    if len(levels) < IDENTITY_OVERLAP:
        return 0.0
    logs = np.abs(np.log(levels[:, 0] / levels[:, 1]))
    return float((logs <= math.log1p(IDENTITY_TOLERANCE)).mean())


def _correlation(new: pd.Series, other: pd.Series) -> float:
    """The correlation of the last STRANGER_RETURNS common daily log moves (-1 with fewer
    than STRANGER_MIN_RETURNS or a flat one)."""
    moves = np.diff(np.log(_common(new, other)[-STRANGER_RETURNS - 1 :]), axis=0)
    if len(moves) <= STRANGER_MIN_RETURNS or min(np.std(moves, axis=0)) == 0:
        return -1.0
    return float(np.corrcoef(moves[:, 0], moves[:, 1])[0, 1])


def closes_of(bars: Sequence[PriceBar]) -> pd.Series:
    """The bars' closes by date, as the identity checks read them."""
    return pd.Series(
        [bar.close for bar in bars],
        index=pd.DatetimeIndex([pd.Timestamp(bar.date) for bar in bars]),
        dtype="float64",
    )

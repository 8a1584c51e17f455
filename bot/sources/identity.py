"""A fetched response holding another symbol's prices is refused whole (issue 19, item 4).

`prices import` refuses such a file (`bot/cli/prices_data.py`); a Yahoo answer goes through
`refresh_prices`, which calls `refuse_strangers` after the screen of unstorable bars: the
same pure judgements (`signals/shapes.py` `identity_problem` against the symbol's stored
closes, `stranger_problem` against its linked instruments when nothing is stored yet).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from bot.sources.base import FetchResult
from signals.models import PriceBar
from signals.shapes import IDENTITY_OVERLAP, identity_problem, stranger_problem
from storage.db import Store
from storage.prices import last_dates, load_prices


def refuse_strangers(db: Store, result: FetchResult, links: Mapping[str, tuple[str, ...]]) -> None:
    """Move every symbol whose bars are another symbol's from `result.bars` to its failures."""
    cached = set(last_dates(db, final_only=False))
    closes = {symbol: closes_of(bars) for symbol, bars in result.bars.items()}
    problems = _strangers(db, closes, cached, links)
    problems.update(_mismatches(db, closes, cached))
    for symbol, problem in problems.items():
        del result.bars[symbol]
        result.failures[symbol] = f"{problem} (nothing stored: check which symbol was sent)"


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


def closes_of(bars: Sequence[PriceBar]) -> pd.Series:
    """The bars' closes by date, as the identity checks read them."""
    return pd.Series(
        [bar.close for bar in bars],
        index=pd.DatetimeIndex([pd.Timestamp(bar.date) for bar in bars]),
        dtype="float64",
    )

"""What many rules have in common is computed once per `MarketData`, then shared.

A check of thousands of rules reads a dozen symbols: every rule on IWM would otherwise clean
IWM's column, find its holes and compute its window returns again. `shared` keeps such a
result in the market's own memo (`MarketData.memo`, empty in every new or replaced
instance), keyed on everything it depends on; `per_series` keys a result on a series object
itself (kept alive in the entry, so its id is never reused while the entry exists). Results
are never mutated by their readers: pandas copies on write.

Results are kept per date checked (`scoped`): a replay checks session after session on one
market, so only the undated check's and the latest date's results are kept, never a copy
of every leg per session.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TypeVar

import pandas as pd

from signals.models import MarketData

T = TypeVar("T")
Memo = dict[tuple[object, ...], object]


def scoped(market: MarketData, as_of: date | None) -> Memo:
    """The market's memo for checks up to `as_of` (an earlier date's is dropped)."""
    key = ("as_of", as_of)
    if key not in market.memo:
        if as_of is not None:
            for old in [k for k in market.memo if k[0] == "as_of" and k[1] is not None]:
                del market.memo[old]
        market.memo[key] = {}
    return market.memo[key]  # type: ignore[no-any-return]


def shared(memo: Memo, key: tuple[object, ...], compute: Callable[[], T]) -> T:
    """`compute()` the first time `key` is asked of this memo, the stored result after."""
    if key not in memo:
        memo[key] = compute()
    return memo[key]  # type: ignore[return-value]


def per_series(
    memo: Memo | None, values: pd.Series, tag: tuple[object, ...], compute: Callable[[], T]
) -> T:
    """`compute()` once per series object and tag (every time when there is no memo)."""
    if memo is None:
        return compute()
    key = ("series", id(values), *tag)
    hit = memo.get(key)
    if isinstance(hit, tuple) and hit[0] is values:
        return hit[1]  # type: ignore[no-any-return]
    result = compute()
    memo[key] = (values, result)
    return result

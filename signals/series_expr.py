"""Name a line to measure or draw: a symbol, a stored series, or a ratio/difference of two."""

from __future__ import annotations

import pandas as pd

from signals.legs import load_leg, split_expression
from signals.models import MarketData


class UnknownSeries(KeyError):
    """The name is neither a cached symbol nor a stored series."""

    def __str__(self) -> str:
        return f"unknown symbol or series: {self.args[0]}"


def resolve_series(market: MarketData, name: str, basis: str = "adj_close") -> pd.Series:
    """The values a name stands for, indexed by date, NaN-free, oldest first.

    A symbol yields its `basis` column (adj_close, close or high); a stored series id its
    values; `A / B` and `A - B` the ratio and difference on the dates both have. Cleaned as
    the rules clean their legs, except that provisional and non-positive bars are kept.
    """
    for leaf in split_expression(name):
        if leaf not in market.prices and leaf not in market.series:
            raise UnknownSeries(leaf)
    # Charts draw the bar still trading too, so provisional bars stay.
    return load_leg(market, name, basis, final_only=False, positive=False)

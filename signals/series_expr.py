"""Name a line to measure or draw: a symbol, a stored series, or a ratio/difference of two."""

from __future__ import annotations

import re

import pandas as pd

from signals.models import MarketData

# Operators need spaces around them because symbols contain '-' (BRK-B) and '^'.
_BINARY = re.compile(r"^\s*(?P<left>\S+)\s+(?P<op>[/-])\s+(?P<right>\S+)\s*$")


class UnknownSeries(KeyError):
    """The name is neither a cached symbol nor a stored series."""

    def __str__(self) -> str:
        return f"unknown symbol or series: {self.args[0]}"


def resolve_series(market: MarketData, name: str, basis: str = "adj_close") -> pd.Series:
    """The values a name stands for, indexed by date, NaN-free, oldest first.

    A symbol yields its `basis` column (adj_close, close or high); a stored series id its
    values; `A / B` and `A - B` the ratio and difference on the dates both have.
    """
    match = _BINARY.match(name)
    if match is None:
        return _leaf(market, name.strip(), basis)
    left = _leaf(market, match["left"], basis)
    right = _leaf(market, match["right"], basis)
    left, right = left.align(right, join="inner")
    combined = left / right if match["op"] == "/" else left - right
    return combined.dropna().rename(name.strip())


def _leaf(market: MarketData, name: str, basis: str) -> pd.Series:
    if name in market.prices:
        frame = market.prices[name]
        return frame[basis].dropna().rename(name)
    if name in market.series:
        return market.series[name].dropna().rename(name)
    raise UnknownSeries(name)

"""Load the values a rule reads (a symbol's column, a stored series, A / B, A - B), cleaned.

Cleaning is the same for the live check and the backtest: missing values, zero or negative
prices and duplicated dates are dropped here, and `inspect_leg` reports them as reasons.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from signals.models import MarketData
from signals.names import BINARY as _BINARY
from signals.names import split_expression  # noqa: F401 - pandas-free; named here too

# Stored series (FRED, P/E snapshots) publish later and on other days than NYSE closes.
SERIES_STALE_DAYS = 7
# A monthly series (the French library's P/B) is posted one to two months after the month: it
# is stale only once the next month's value should have been published too.
MONTHLY_STALE_DAYS = 75
_MONTHLY_GAP_DAYS = 25  # a series whose usual spacing is at least this is monthly (or rarer)


class DataError(ValueError):
    """The data a measure needs is missing, unknown, too short or unusable."""


def load_leg(
    market: MarketData,
    name: str,
    column: str = "adj_close",
    *,
    final_only: bool = True,
    positive: bool = True,
) -> pd.Series:
    """The cleaned values `name` stands for, indexed by date, oldest first.

    A symbol yields `column` of its bars (final bars only unless `final_only` is False);
    zero or negative prices are dropped when `positive`. Raises DataError for unknown names.
    """
    match = _BINARY.match(name)
    if match is None:
        return _leaf(market, name.strip(), column, final_only, positive)
    left = _leaf(market, match["left"], column, final_only, positive)
    right = _leaf(market, match["right"], column, final_only, positive)
    left, right = left.align(right, join="inner")
    combined = left / right if match["op"] == "/" else left - right
    return combined.replace([np.inf, -np.inf], np.nan).dropna().rename(name.strip())


def _leaf(
    market: MarketData, name: str, column: str, final_only: bool, positive: bool
) -> pd.Series:
    if name in market.prices:
        values = _column(market.prices[name], column, final_only)
        values = values[values > 0] if positive else values
    elif name in market.series:
        values = market.series[name]
    else:
        raise DataError(f"unknown symbol or series: {name}")
    values = values.astype("float64").dropna()
    # Which of two bars on one date is right cannot be known: use neither (inspect_leg says so).
    values = values[~values.index.duplicated(keep=False)]
    return values.sort_index().rename(name)


def inspect_leg(
    market: MarketData,
    name: str,
    column: str,
    as_of: date,
    *,
    final_only: bool = True,
    positive: bool = True,
) -> list[str]:
    """Problems with a leaf's raw data on the bar at `as_of`: missing, NaN, non-positive, dups."""
    if name in market.series:
        return _inspect_values(name, market.series[name], as_of, positive=False)
    if name not in market.prices:
        return [f"{name}: no data stored (unknown symbol or series)"]
    if column not in market.prices[name]:
        return [f"{name}: no {column} column"]
    values = _column(market.prices[name], column, final_only)
    return _inspect_values(name, values, as_of, positive=positive, column=column)


def _column(frame: pd.DataFrame, column: str, final_only: bool) -> pd.Series:
    """One column of a price frame, final bars only when asked."""
    if column not in frame:
        return pd.Series(dtype="float64", index=pd.DatetimeIndex([]))
    values = frame[column]
    if final_only and "final" in frame:
        values = values[frame["final"].to_numpy(dtype=bool)]
    return values


def _inspect_values(
    name: str, values: pd.Series, as_of: date, *, positive: bool, column: str = "value"
) -> list[str]:
    upto = values[values.index <= pd.Timestamp(as_of)]
    if upto.empty:
        return [f"{name}: no data on or before {as_of}"]
    last_day = upto.index[-1]
    problems = []
    if upto.index.duplicated().any():
        dup = upto.index[upto.index.duplicated()][-1].date()
        problems.append(f"{name}: duplicated date {dup}")
    last = upto[upto.index == last_day].iloc[-1]
    if pd.isna(last):
        problems.append(f"{name}: {column} missing (NaN) on {last_day.date()}")
    elif positive and last <= 0:
        problems.append(f"{name}: non-positive {column} {last:g} on {last_day.date()}")
    return problems


def is_monthly(values: pd.Series) -> bool:
    """Whether a series' recent values come a month or more apart (median of the last 12 gaps)."""
    if len(values) < 3:
        return False
    gaps = pd.Series(values.index[-13:]).diff().dropna().dt.days
    return bool(gaps.median() >= _MONTHLY_GAP_DAYS)


def stale_reason(market: MarketData, name: str, last: date, expected: date) -> str | None:
    """Why a leaf's last usable date is stale against the expected NYSE session, or None."""
    if name in market.series:
        days = MONTHLY_STALE_DAYS if is_monthly(market.series[name]) else SERIES_STALE_DAYS
        if last < expected - timedelta(days=days):
            return f"{name}: last value {last}, more than {days} days before {expected}"
        return None
    if last < expected:
        return f"{name}: last final bar {last}, expected session {expected}"
    return None

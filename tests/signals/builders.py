"""Small builders for hand-made market data in signal tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import numpy as np
import pandas as pd

from signals.models import PRICE_COLUMNS, MarketData


def frame(
    days: Sequence[str | date],
    close: Sequence[float],
    adj: Sequence[float] | None = None,
    final: Sequence[bool] | None = None,
    high: Sequence[float] | None = None,
) -> pd.DataFrame:
    """A price frame like storage.prices.load_prices returns (adj_close = close by default)."""
    index = pd.DatetimeIndex([pd.Timestamp(d) for d in days], name="date")
    data = {column: np.full(len(days), np.nan) for column in PRICE_COLUMNS}
    data["close"] = np.asarray(close, dtype=float)
    data["adj_close"] = np.asarray(adj if adj is not None else close, dtype=float)
    data["high"] = np.asarray(high if high is not None else close, dtype=float)
    data["final"] = np.asarray(final if final is not None else [True] * len(days), dtype=bool)
    return pd.DataFrame(data, index=index)[list(PRICE_COLUMNS)]


def sessions(start: str, count: int) -> list[date]:
    """`count` weekdays from `start` (enough of a calendar for hand-made paths)."""
    return [d.date() for d in pd.bdate_range(start, periods=count)]


def series(days: Iterable[str | date], values: Sequence[float], name: str) -> pd.Series:
    """A stored series like storage.series.load_series returns."""
    index = pd.DatetimeIndex([pd.Timestamp(d) for d in days], name="date")
    return pd.Series(np.asarray(values, dtype=float), index=index, name=name)


def market(prices: dict[str, pd.DataFrame] | None = None, **stored: pd.Series) -> MarketData:
    """MarketData from frames by symbol and series by id (keyword `series_` ids allowed)."""
    return MarketData(prices=prices or {}, series={k: v for k, v in stored.items()})


def read_csv_frame(path: str | object) -> pd.DataFrame:
    """A hand-made Yahoo-format CSV (tests/data/signals) as a price frame, all bars final."""
    raw = pd.read_csv(path, parse_dates=["Date"], index_col="Date")
    raw.index.name = "date"
    renamed = raw.rename(columns=lambda c: c.lower().replace(" ", "_"))
    renamed["final"] = True
    return renamed.astype({c: "float64" for c in PRICE_COLUMNS if c != "final"})[
        list(PRICE_COLUMNS)
    ]

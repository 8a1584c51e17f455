"""Price-to-book of small against large caps from the French 5x5 size x book-to-market portfolios.

The method, in two sentences a desk can check: each June, a size group's book value is the sum
over its portfolios of the value-weighted BE/ME at formation (the `BE_FYt-1/ME_June t` table,
read on July's row) times the portfolio's market value (number of firms x average firm size),
and each later month every portfolio's market value grows with its value-weighted return, so
a group's P/B at a month end is its market value over that fixed book. The signal is the P/B of
size quintiles 2-3 (about the Russell 2000) divided by the P/B of quintiles 4-5 (large caps);
micro caps (quintile 1) divided by large caps is kept alongside.

Pure: pandas frames in (one per table, columns `SMALL LoBM`, `ME1 BM2`, ... `BIG HiBM`),
series out, indexed by month end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from signals.names import SERIES_IDS  # noqa: F401 - the ids this module computes

# Size quintile of each of the 25 columns, in the library's column order (5 BM per size).
SIZE_GROUPS = {"micro": (1,), "small": (2, 3), "large": (4, 5)}
FORMATION_MONTH = 7  # portfolios formed at the end of June are first held in July


@dataclass(frozen=True)
class PortfolioTables:
    """The four monthly tables the measure reads, each 25 columns in the library's order."""

    returns: pd.DataFrame  # value-weighted returns in percent
    firms: pd.DataFrame  # number of firms
    size: pd.DataFrame  # average market cap ($M), as of the end of the previous month
    book_to_market: pd.DataFrame  # value-weighted BE / ME at the June formation


def size_quintile(position: int) -> int:
    """The size quintile (1 = smallest) of the column at `position` (0-based, 25 columns)."""
    return position // 5 + 1


def relative_price_to_book(tables: PortfolioTables) -> dict[str, pd.Series]:
    """The five `SERIES_IDS` series, by month end, from the first formation on the tables.

    A month whose group has a missing cell (NaN) is left out of that group's series.
    """
    market, book = _market_and_book(tables)
    pb = {name: _group_ratio(market, book, quintiles) for name, quintiles in SIZE_GROUPS.items()}
    found = {
        "ff:pb_micro": pb["micro"],
        "ff:pb_small": pb["small"],
        "ff:pb_large": pb["large"],
        "ff:pb_small_vs_large": pb["small"] / pb["large"],
        "ff:pb_micro_vs_large": pb["micro"] / pb["large"],
    }
    return {sid: values.dropna().rename(sid) for sid, values in found.items()}


def _market_and_book(tables: PortfolioTables) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per portfolio and month end: market value rolled with returns, and the formation book."""
    returns, firms, size, bm = (_numbered(t) for t in _aligned(tables))
    start_value = firms * size  # market value at the start of the month (end of the last)
    growth = 1.0 + returns / 100.0
    formation = pd.Series(returns.index.month == FORMATION_MONTH, index=returns.index)
    year = formation.cumsum()  # one number per formation year (0 before the first July)
    formed_value = start_value.where(formation).groupby(year).transform("first")
    # A missing return breaks the roll until the next formation (cumprod would skip it).
    broken = growth.isna().groupby(year).cummax()
    market = (formed_value * growth.groupby(year).cumprod()).mask(broken)
    book = (bm * start_value).where(formation).groupby(year).transform("first")
    before_first = (year == 0).to_numpy()
    return market[~before_first], book[~before_first]


def _aligned(tables: PortfolioTables) -> list[pd.DataFrame]:
    frames = [tables.returns, tables.firms, tables.size, tables.book_to_market]
    common = frames[0].index
    for frame in frames[1:]:
        common = common.intersection(frame.index)
    return [frame.loc[common] for frame in frames]


def _numbered(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with columns 0..24, so tables with differently spelled headers line up."""
    if frame.shape[1] != 25:
        raise ValueError(f"expected 25 portfolios, found {frame.shape[1]}")
    return frame.set_axis(range(25), axis=1).astype("float64")


def _group_ratio(market: pd.DataFrame, book: pd.DataFrame, quintiles: tuple[int, ...]) -> pd.Series:
    """Sum of market value over sum of book for the portfolios of the size quintiles."""
    columns = [c for c in market.columns if size_quintile(int(c)) in quintiles]
    value = market[columns].sum(axis=1, min_count=len(columns))
    books = book[columns].sum(axis=1, min_count=len(columns))
    ratio = value / books.where(books > 0)
    return ratio.replace([np.inf, -np.inf], np.nan)

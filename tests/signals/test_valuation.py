"""The price-to-book measure on small hand-made tables whose answers can be worked out by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from signals.valuation import PortfolioTables, relative_price_to_book

MONTHS = pd.date_range("2020-06-30", "2021-08-31", freq="ME")  # June 2020 to August 2021


def table(value: float) -> pd.DataFrame:
    return pd.DataFrame(value, index=MONTHS, columns=[f"P{i}" for i in range(25)])


def tables(**changes: pd.DataFrame) -> PortfolioTables:
    base = {
        "returns": table(0.0),
        "firms": table(10.0),
        "size": table(100.0),
        "book_to_market": table(0.5),
    }
    return PortfolioTables(**{**base, **changes})


def test_price_to_book_starts_at_one_over_book_to_market_and_rolls_with_returns() -> None:
    returns = table(0.0)
    returns.loc["2020-08-31", returns.columns[15:]] = 10.0  # large caps up 10 % in August
    found = relative_price_to_book(tables(returns=returns))
    assert found["ff:pb_small"].index[0] == pd.Timestamp("2020-07-31")  # June precedes a formation
    assert found["ff:pb_small"]["2020-07-31"] == pytest.approx(2.0)
    assert found["ff:pb_large"]["2020-08-31"] == pytest.approx(2.2)
    assert found["ff:pb_small_vs_large"]["2021-06-30"] == pytest.approx(2.0 / 2.2)
    # A new formation in July: book is measured again, so large caps are back at 2.0.
    assert found["ff:pb_small_vs_large"]["2021-07-31"] == pytest.approx(1.0)


def test_groups_add_book_and_market_before_dividing() -> None:
    size = table(100.0)
    size[size.columns[5]] = 900.0  # one small portfolio is nine times larger ...
    bm = table(0.5)
    bm[bm.columns[5]] = 1.0  # ... and twice as cheap
    pb = relative_price_to_book(tables(size=size, book_to_market=bm))["ff:pb_small"]
    # Ten portfolios: market 9 x 1000 + 9000 = 18000, book 9 x 500 + 9000 = 13500.
    assert pb["2020-07-31"] == pytest.approx(18000 / 13500)


def test_missing_cells_leave_out_the_group_until_they_no_longer_count() -> None:
    bm = table(0.5)
    bm.loc["2020-07-31", bm.columns[0]] = math.nan  # micro caps' book unknown for a year
    returns = table(0.0)
    returns.loc["2020-09-30", returns.columns[20]] = math.nan  # one large return missing
    found = relative_price_to_book(tables(book_to_market=bm, returns=returns))
    micro, large = found["ff:pb_micro"], found["ff:pb_large"]
    assert micro.index[0] == pd.Timestamp("2021-07-31")  # back with the next formation
    assert pd.Timestamp("2020-08-31") in large.index
    assert pd.Timestamp("2020-09-30") not in large.index  # nor any later month of that year
    assert pd.Timestamp("2021-06-30") not in large.index
    assert large["2021-07-31"] == pytest.approx(2.0)
    assert len(found["ff:pb_small"]) == len(MONTHS) - 1


def test_a_file_without_25_portfolios_is_refused() -> None:
    with pytest.raises(ValueError, match="expected 25 portfolios, found 6"):
        relative_price_to_book(tables(firms=table(10.0).iloc[:, :6]))

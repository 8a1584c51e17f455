"""Charts: every kind renders a phone-sized PNG from market data, and bad specs fail clearly."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bot.charts import ChartError, rebased_legs, render_chart
from signals.models import ChartSpec, MarketData

INDEX = pd.bdate_range("2025-01-02", "2026-11-20")


def frame(values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"adj_close": values, "close": values, "high": values * 1.01}, index=INDEX)


@pytest.fixture(scope="module")
def market() -> MarketData:
    steps = np.linspace(0, 1, len(INDEX))
    return MarketData(
        prices={"IWC": frame(100 + 30 * steps), "OEF": frame(200 + 20 * steps)},
        series={"DGS10": pd.Series(4 + steps, index=INDEX)},
    )


def size_of(png: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(png)).size


SPECS = [
    ChartSpec("relative", ("IWC", "OEF"), date(2026, 1, 2), date(2026, 11, 20)),
    ChartSpec("new_high", ("IWC",), date(2026, 6, 1), date(2026, 11, 20), date(2025, 3, 3), 105.0),
    ChartSpec(
        "extreme", ("IWC / OEF",), date(2025, 6, 2), date(2026, 11, 20), date(2025, 7, 1), 0.55
    ),
    ChartSpec("level", ("DGS10",), date(2026, 1, 2), date(2026, 11, 20), None, 4.5),
]


@pytest.mark.parametrize("spec", SPECS, ids=[s.kind for s in SPECS])
def test_every_kind_renders_a_phone_sized_png(spec, market):
    png = render_chart(spec, market, title="IWC overtook OEF YTD")
    assert png.startswith(b"\x89PNG")
    assert size_of(png) == (1200, 750)


def test_relative_legs_are_rebased_to_100_on_the_first_common_date(market):
    left, right = rebased_legs(market, SPECS[0])
    assert left.iloc[0] == pytest.approx(100) and right.iloc[0] == pytest.approx(100)
    assert left.index[0] == pd.Timestamp("2026-01-02")


def test_empty_window_and_wrong_leg_count_fail_clearly(market):
    with pytest.raises(ChartError, match="no data for IWC"):
        render_chart(ChartSpec("level", ("IWC",), date(2030, 1, 1), date(2030, 2, 1)), market)
    with pytest.raises(ChartError, match="two legs"):
        render_chart(ChartSpec("relative", ("IWC",), date(2026, 1, 2), date(2026, 2, 2)), market)


def test_real_prices_iwc_versus_oef(shared_data: Path):
    def load(symbol: str) -> pd.DataFrame:
        raw = pd.read_csv(
            shared_data / "prices" / f"{symbol}.csv", index_col="Date", parse_dates=True
        )
        return raw.rename(columns={"Adj Close": "adj_close", "Close": "close", "High": "high"})

    market = MarketData(prices={"IWC": load("IWC"), "OEF": load("OEF")})
    spec = ChartSpec("relative", ("IWC", "OEF"), date(2026, 1, 2), date(2026, 7, 31))
    assert size_of(render_chart(spec, market, title="IWC overtook OEF YTD")) == (1200, 750)

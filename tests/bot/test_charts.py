"""Charts: every kind renders a phone-sized PNG from market data, and bad specs fail clearly."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bot.delivery.charts import (
    CONTEXT_SESSIONS,
    ChartError,
    build_figure,
    format_value,
    rebased_legs,
    render_chart,
)
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


def _texts(axes) -> list[str]:
    return [text.get_text() for text in axes.texts]


def test_spread_panel_states_the_unit_the_alert_uses(market):
    in_bps = replace(SPECS[0], spread_unit="bps")
    figure = build_figure(in_bps, market)
    spread_axes = figure.axes[1]
    assert spread_axes.get_ylabel() == "spread, bps"
    left, right = rebased_legs(market, in_bps)
    expected = (left - right).iloc[-1] * 100
    assert _texts(spread_axes) == [f"{expected:+,.0f} bps"]
    assert figure.axes[1].get_ylabel() != build_figure(SPECS[0], market).axes[1].get_ylabel()
    assert _texts(build_figure(SPECS[0], market).axes[1])[0].endswith(" pp")


def test_a_window_of_a_few_sessions_is_drawn_with_context_before_it(market):
    early_ytd = ChartSpec("relative", ("IWC", "OEF"), date(2026, 1, 2), date(2026, 1, 6))
    left, right = rebased_legs(market, early_ytd)
    assert len(left) == CONTEXT_SESSIONS
    assert left.index[0] < pd.Timestamp("2026-01-02")
    assert left[pd.Timestamp("2026-01-02")] == pytest.approx(100)
    assert right[pd.Timestamp("2026-01-02")] == pytest.approx(100)
    top = build_figure(early_ytd, market).axes[0]
    assert "window start" in _texts(top)
    assert top.get_ylabel() == "rebased to 100 on 2026-01-02"


def test_a_long_window_gets_no_context_marker(market):
    top = build_figure(SPECS[0], market).axes[0]
    assert "window start" not in _texts(top)


@pytest.mark.parametrize("reference", [130.3, 129.7], ids=["record-above", "record-below"])
def test_the_last_value_label_keeps_clear_of_the_reference_line(market, reference):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    spec = ChartSpec("new_high", ("IWC",), date(2026, 6, 1), date(2026, 11, 20), None, reference)
    figure = build_figure(spec, market)
    renderer = FigureCanvasAgg(figure).get_renderer()
    axes = figure.axes[0]
    label = next(text for text in axes.texts if text.get_text() == format_value(130.0))
    box = label.get_window_extent(renderer)
    _, line_y = axes.transData.transform((0, reference))
    assert not box.y0 <= line_y <= box.y1


def test_the_new_value_label_is_not_over_the_previous_records_marker(market):
    # Issue 24: a record set a few days before the new one had its diamond under the label.
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    previous = INDEX[-4].date()
    value = float(market.prices["IWC"].loc[INDEX[-4], "adj_close"])
    spec = ChartSpec("new_high", ("IWC",), date(2026, 6, 1), date(2026, 11, 20), previous, value)
    figure = build_figure(spec, market)
    renderer = FigureCanvasAgg(figure).get_renderer()
    axes = figure.axes[0]
    label = next(text for text in axes.texts if text.get_text() == format_value(130.0))
    box = label.get_window_extent(renderer)
    from matplotlib.dates import date2num

    marker_x, _ = axes.transData.transform((date2num(pd.Timestamp(previous)), value))
    # Not above or over the diamond (read as that record's value): right of the new point.
    assert box.x0 > marker_x + 6, (box, marker_x)
    assert box.x1 <= figure.bbox.x1  # and the label stays inside the picture


def test_a_spread_threshold_chart_draws_its_threshold(market):
    spec = ChartSpec(
        "relative", ("IWC", "OEF"), date(2026, 1, 2), date(2026, 11, 20),
        reference_value=400.0, spread_unit="bps",
    )  # fmt: skip
    bottom = build_figure(spec, market).axes[1]
    levels = {round(line.get_ydata()[0], 6) for line in bottom.lines if len(line.get_ydata()) == 2}
    assert 400.0 in levels and 0.0 in levels
    assert "threshold +400 bps" in _texts(bottom)
    plain = build_figure(replace(spec, reference_value=None), market).axes[1]
    assert not any("threshold" in text for text in _texts(plain))  # a crossover has none

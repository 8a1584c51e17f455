"""Issue 23: the track record chart: a thin line per past firing, the median bold, base shaded."""

from __future__ import annotations

import numpy as np

from bot.delivery.outcome_chart import BASE, FAN, build_outcome_figure, render_outcome_chart
from signals.evaluate import backtest_rule
from signals.models import MarketData
from signals.outcomes import track_record
from signals.rules import parse_rule
from tests.bot.test_track_record_alert import DAYS, sawtooth
from tests.signals.builders import frame


def test_fan_median_and_base_band() -> None:
    closes = sawtooth(9)
    market = MarketData(prices={"X": frame(DAYS, closes)})
    rule = parse_rule({"id": "x", "type": "new_high", "symbol": "X", "min_history": 2})
    record = track_record(rule, market, backtest_rule(rule, market))
    figure = build_outcome_figure(record)
    (axes,) = figure.axes
    fan = [line for line in axes.lines if line.get_color() == FAN]
    assert len(fan) == 7  # 6M (126 sessions) has passed after rows 1 .. 300 of 0..449
    [bold] = [line for line in axes.lines if line.get_linewidth() == 3.5]
    assert bold.get_label() == "median of 7 firings"
    # The median path is the median of the fan, session by session.
    stacked = np.vstack([line.get_ydata() for line in fan])
    assert np.allclose(bold.get_ydata(), np.median(stacked, axis=0))
    assert len(axes.collections) == 1  # the base rate's band
    assert any(line.get_color() == BASE for line in axes.lines)
    assert axes.get_xlabel() == "sessions after the firing" and "X, %" in axes.get_ylabel()
    assert render_outcome_chart(record).startswith(b"\x89PNG")

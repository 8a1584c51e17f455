"""Alert charts as PNG bytes, sized and lettered to be read on a phone (1200x750 px).

matplotlib is imported inside the functions: it costs a noticeable fraction of a second, and
CLI commands that draw nothing should not pay it. Figures are built with the object API and
the Agg canvas (no pyplot global state), so rendering is safe from worker threads.
"""

from __future__ import annotations

import io
import logging
from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd

from signals.models import ChartSpec, Event, MarketData
from signals.names import display_name
from signals.series_expr import resolve_series

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

WIDTH_IN, HEIGHT_IN, DPI = 12.0, 7.5, 100
FONT = {
    "font.size": 16,
    "axes.titlesize": 20,
    "axes.labelsize": 16,
    "legend.fontsize": 15,
    "xtick.labelsize": 14,
    "ytick.labelsize": 14,
}
COLOURS = ("#1f77b4", "#ff7f0e")
MARK = "#d62728"


class ChartError(ValueError):
    """The chart cannot be drawn (no data in the window, wrong number of legs)."""


def render_chart(spec: ChartSpec, market: MarketData, *, title: str = "") -> bytes:
    """The PNG for `spec` drawn from `market`."""
    return _to_png(build_figure(spec, market, title=title))


def build_figure(spec: ChartSpec, market: MarketData, *, title: str = "") -> Figure:
    """The matplotlib figure for `spec`, not yet rendered (tests read its labels)."""
    drawers = {
        "relative": _draw_relative,
        "new_high": _draw_marked,
        "extreme": _draw_marked,
        "level": _draw_marked,
    }
    figure = _new_figure()
    drawers[spec.kind](figure, spec, market)
    if title:
        figure.suptitle(title, fontsize=20, fontweight="bold")
    return figure


def render_event_chart(event: Event, market: MarketData) -> bytes | None:
    """The event's chart as PNG, or None (logged) when it has none or cannot be drawn."""
    if event.chart is None:
        return None
    try:
        return render_chart(event.chart, market, title=event.title)
    except Exception as error:  # a missing series must not hold the alert back
        log.warning("no chart for %s: %s", event.dedupe_key, error)
        return None


def _new_figure() -> Figure:
    from matplotlib.figure import Figure

    # Fixed margins instead of constrained layout: that costs ~250 ms a chart, above budget.
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    figure.subplots_adjust(left=0.09, right=0.93, top=0.9, bottom=0.08, hspace=0.08)
    return figure


def _to_png(figure: Figure) -> bytes:
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    with rc_context(FONT):
        # Light compression: the bytes barely grow and encoding is several times faster.
        FigureCanvasAgg(figure).print_png(buffer, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def window(market: MarketData, name: str, spec: ChartSpec, start: date | None = None) -> pd.Series:
    """One leg's values between the spec's start (or `start`) and end, oldest first."""
    series = resolve_series(market, name, spec.basis)
    sliced = series.loc[pd.Timestamp(start or spec.start) : pd.Timestamp(spec.end)]
    if sliced.empty:
        raise ChartError(f"no data for {name} between {spec.start} and {spec.end}")
    return sliced


# A window shorter than this (a YTD chart on the year's third session) is drawn with the
# sessions before it as context, so the reader sees the move against recent history.
CONTEXT_SESSIONS = 20


def rebased_legs(market: MarketData, spec: ChartSpec) -> tuple[pd.Series, pd.Series]:
    """The two legs on their common dates, each rebased to 100 on the window's first of them.

    A window of fewer than `CONTEXT_SESSIONS` sessions comes with the sessions before it, still
    rebased on the window's first day.
    """
    if len(spec.legs) != 2:
        raise ChartError(f"a relative chart needs two legs, got {len(spec.legs)}")
    left, right = (_with_context(market, leg, spec) for leg in spec.legs)
    left, right = left.align(right, join="inner")
    base = _rebase_day(left, spec)
    return left / left[base] * 100, right / right[base] * 100


def _with_context(market: MarketData, name: str, spec: ChartSpec) -> pd.Series:
    inside = window(market, name, spec)
    if len(inside) >= CONTEXT_SESSIONS:
        return inside
    series = resolve_series(market, name, spec.basis).loc[: pd.Timestamp(spec.end)]
    return series.iloc[-CONTEXT_SESSIONS:]


def _rebase_day(series: pd.Series, spec: ChartSpec) -> pd.Timestamp:
    inside = series.index[series.index >= pd.Timestamp(spec.start)]
    if inside.empty:
        raise ChartError(f"{spec.legs[0]} and {spec.legs[1]} share no dates in the window")
    return inside[0]


def _draw_relative(figure: Figure, spec: ChartSpec, market: MarketData) -> None:
    with _fonts():
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
        left, right = rebased_legs(market, spec)
        base = _rebase_day(left, spec)
        for series, colour in zip((left, right), COLOURS, strict=True):
            top.plot(
                series.index,
                series.to_numpy(),
                color=colour,
                linewidth=2.5,
                label=f"{series.name} {series.iloc[-1]:.1f}",
            )
        top.axhline(100, color="grey", linewidth=1, linestyle=":")
        top.set_ylabel(f"rebased to 100 on {base:%Y-%m-%d}")
        if left.index[0] < base:
            _mark_window_start(top, bottom, base)
        top.legend(loc="upper left")
        _draw_spread(bottom, left - right, spec.spread_unit, spec.reference_value)
        _style(top, bottom)


def _mark_window_start(top: Axes, bottom: Axes, base: pd.Timestamp) -> None:
    for axes in (top, bottom):
        axes.axvline(base, color="grey", linewidth=1.5, linestyle="--")
    top.annotate(
        "window start", (base, 1.0), xycoords=("data", "axes fraction"), xytext=(6, -6),
        textcoords="offset points", va="top", color="grey",
    )  # fmt: skip


def _draw_spread(axes: Axes, spread: pd.Series, unit: str, threshold: float | None) -> None:
    # Rebased legs differ by percentage points of return; the alert may state basis points.
    values = spread.to_numpy() * (100 if unit == "bps" else 1)
    axes.fill_between(spread.index, values, 0, where=values >= 0, color="#2ca02c", alpha=0.5)
    axes.fill_between(spread.index, values, 0, where=values < 0, color=MARK, alpha=0.5)
    axes.plot(spread.index, values, color="black", linewidth=1.5)
    axes.axhline(0, color="grey", linewidth=1)
    if threshold is not None:  # where a spread_threshold rule fires
        axes.axhline(threshold, color=MARK, linestyle="--", linewidth=1.5)
        label = f"threshold {threshold:+,.0f} {unit}"
        at = ("axes fraction", "data")
        axes.annotate(label, (0.01, threshold), xycoords=at, va="bottom", color=MARK)
    axes.set_ylabel(f"spread, {unit}")
    label = f"{values[-1]:+,.0f} bps" if unit == "bps" else f"{values[-1]:+.1f} pp"
    axes.annotate(
        label,
        (spread.index[-1], values[-1]),
        xytext=(-8, 0),
        textcoords="offset points",
        ha="right",
        va="center",
        fontweight="bold",
        bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8, "ec": "none"},
    )


# Room right of the last point, as a share of the window, for its value's label.
LABEL_ROOM = 0.14
_MARK_LABELS = {"new_high": "previous record", "extreme": "prior extreme", "level": "level"}


def _draw_marked(figure: Figure, spec: ChartSpec, market: MarketData) -> None:
    if not spec.legs:
        raise ChartError("a chart needs at least one leg")
    with _fonts():
        axes = figure.subplots()
        # Widen the window so the marked reference (an old record) is on the line itself.
        start = min(spec.start, spec.reference_date or spec.start)
        series = window(market, spec.legs[0], spec, start)
        name = display_name(str(series.name))
        axes.plot(series.index, series.to_numpy(), color=COLOURS[0], linewidth=2.5, label=name)
        _mark_last(axes, series, spec.reference_value)
        _mark_reference(axes, spec, _MARK_LABELS[spec.kind])
        if spec.since_line is not None:  # where an "extreme since" window starts (2008)
            axes.axvline(_ts(spec.since_line), color="grey", linestyle=":", linewidth=2,
                         label=f"since {spec.since_line:%Y-%m-%d}")  # fmt: skip
        # The record line runs along the top of a new-high chart: let matplotlib pick the
        # emptiest corner and keep the legend above every line.
        axes.legend(loc="best", framealpha=0.95).set_zorder(10)
        _style(axes)


def _mark_last(axes: Axes, series: pd.Series, reference: float | None) -> None:
    last_day, last = series.index[-1], float(series.iloc[-1])
    axes.scatter([last_day], [last], s=120, color=COLOURS[0], zorder=5)
    # The label goes on the side away from the reference line, so the two never overlap, and
    # right of the point: left of it sat over the previous record's marker a few days back.
    below = reference is not None and reference >= last
    first_day = series.index[0]
    axes.set_xlim(right=last_day + (last_day - first_day) * LABEL_ROOM)
    axes.annotate(
        format_value(last),
        (last_day, last),
        xytext=(10, -14 if below else 14),
        textcoords="offset points",
        ha="left",
        va="top" if below else "bottom",
        fontweight="bold",
        bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8, "ec": "none"},
    )


def _mark_reference(axes: Axes, spec: ChartSpec, label: str) -> None:
    if spec.reference_value is None:
        return
    value = spec.reference_value
    text = f"{label} {format_value(value)}"
    if spec.reference_date is not None:
        text += f" ({spec.reference_date:%Y-%m-%d})"
        axes.scatter([_ts(spec.reference_date)], [value], s=160, marker="D", color=MARK, zorder=6)
    axes.axhline(value, color=MARK, linestyle="--", linewidth=2, label=text)


def format_value(value: float) -> str:
    """Prices with 2 decimals, small ratios and yields with 4 significant digits."""
    return f"{value:.4g}" if abs(value) < 10 else f"{value:,.2f}"


def _ts(day: date) -> pd.Timestamp:
    return pd.Timestamp(day)


def _style(*axes_list: Any) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.ticker import MaxNLocator

    # Few ticks: tick creation dominates render time, and a phone shows few labels anyway.
    locator = AutoDateLocator(minticks=3, maxticks=7)
    for axes in axes_list:
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        axes.yaxis.set_major_locator(MaxNLocator(6))
        axes.grid(True, alpha=0.3)
        axes.spines[["top", "right"]].set_visible(False)
        axes.tick_params(labelsize=14)
        axes.yaxis.label.set_size(15)


def _fonts() -> Any:
    from matplotlib import rc_context

    return rc_context(FONT)

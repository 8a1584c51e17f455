"""The chart of a track record: the move after each past firing (the fan), its median bold,
and the base rate (every session of the history) shaded, in `bot/delivery/charts.py` style.

x is sessions after the firing (0 = the firing's close); y the tracked move (spread in bps,
return in %, change in bps). Drawn with matplotlib's object API on the Agg canvas.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bot.delivery.charts import COLOURS, DPI, FONT, HEIGHT_IN, WIDTH_IN
from signals.outcomes import TrackRecord, base_band, forward_paths

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FAN = "#7f7f7f"
BASE = "#1f77b4"


def render_outcome_chart(record: TrackRecord, *, title: str = "") -> bytes:
    """The PNG of `record`'s fan over its longest horizon."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    with rc_context(FONT):
        # Light compression, as the alert charts: barely bigger, several times faster.
        FigureCanvasAgg(build_outcome_figure(record, title=title)).print_png(
            buffer, pil_kwargs={"compress_level": 1}
        )
    return buffer.getvalue()


def build_outcome_figure(record: TrackRecord, *, title: str = "") -> Figure:
    """The figure, not yet rendered (tests read its lines and labels)."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    longest = max((h.horizon.sessions for h in record.horizons), default=63)
    paths = forward_paths(record, longest)
    band = base_band(record, longest)
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    figure.subplots_adjust(left=0.09, right=0.95, top=0.9, bottom=0.1)
    with rc_context(FONT):
        axes = figure.subplots()
        _draw_base(axes, band)
        _draw_fan(axes, paths)
        _mark_horizons(axes, record)
        unit = record.tracked.unit
        axes.set_xlabel("sessions after the firing")
        axes.set_ylabel(f"{record.tracked.label}, {unit}")
        axes.axhline(0, color="grey", linewidth=1)
        axes.grid(True, alpha=0.3)
        axes.spines[["top", "right"]].set_visible(False)
        axes.legend(loc="upper left")  # "best" tests every line: a tenth of the render
    figure.suptitle(title or f"{record.rule_id}: after each past firing", fontweight="bold")
    return figure


def _draw_base(axes: Axes, band: pd.DataFrame) -> None:
    """The base rate: the middle half of every session's move shaded, its median dashed."""
    x = band.index.to_numpy()
    axes.fill_between(
        x, band["low"], band["high"], color=BASE, alpha=0.15, label="all sessions, middle half"
    )
    axes.plot(
        x, band["median"], color=BASE, linewidth=1.5, linestyle="--", label="all sessions, median"
    )


def _draw_fan(axes: Axes, paths: pd.DataFrame) -> None:
    """One thin line per past firing whose window has passed, their median bold."""
    x = paths.index.to_numpy()
    for column in paths.columns:
        axes.plot(x, paths[column], color=FAN, linewidth=1, alpha=0.45)
    if len(paths.columns):
        # A hole in a leg leaves NaN in one path: the median is of the others at that session.
        median = np.nanmedian(paths.to_numpy(dtype=float), axis=1)
        label = f"median of {len(paths.columns)} firings"
        axes.plot(x, median, color=COLOURS[1], linewidth=3.5, label=label)


def _mark_horizons(axes: Axes, record: TrackRecord) -> None:
    for outcome in record.horizons:
        axes.axvline(outcome.horizon.sessions, color="grey", linewidth=1, linestyle=":")
        axes.annotate(
            outcome.horizon.label, (outcome.horizon.sessions, 0.0),
            xycoords=("data", "axes fraction"), xytext=(4, 4), textcoords="offset points",
            va="bottom", color="grey",
        )  # fmt: skip

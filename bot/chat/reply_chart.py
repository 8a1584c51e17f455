"""The chart of a command reply (`/spread`, `/signal`) as PNG, drawn from the cache.

Shared by the chat adapters; blocking (SQLite, matplotlib), so call it from a worker thread.
"""

from __future__ import annotations

import logging

from signals.legs import split_expression
from signals.models import ChartSpec, MarketData
from storage.db import Store
from storage.prices import load_prices
from storage.series import load_series

log = logging.getLogger(__name__)


def render_reply_chart(db: Store, spec: ChartSpec | None, title: str = "") -> bytes | None:
    """The PNG for `spec` from cached prices and series, or None (logged) if it cannot be drawn."""
    if spec is None:
        return None
    from bot.delivery.charts import render_chart  # lazy: matplotlib is slow to import

    leaves = sorted({leaf for leg in spec.legs for leaf in split_expression(leg)})
    start = min(spec.start, spec.reference_date or spec.start)  # a marked old record too
    market = MarketData(
        prices=load_prices(db, leaves, start=start, end=spec.end),
        series=load_series(db, leaves),
    )
    try:
        return render_chart(spec, market, title=title)
    except Exception as error:  # a missing leg must not hold the answer back
        log.warning("no chart for %s: %s", ", ".join(spec.legs), error)
        return None

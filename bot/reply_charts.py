"""Charts for command replies (`/spread`, `/signal`) as PNG bytes, from the price cache.

Shared by the chat adapters and SDK-free. Blocking (SQLite, matplotlib): call it from a
worker thread. A chart that cannot be drawn is logged and skipped, never an error reply.
"""

from __future__ import annotations

import logging

from sqlite_utils import Database

from bot.evaluation import load_market
from bot.replies import SignalDetail, SpreadReply
from signals.models import ChartSpec, MarketData
from signals.rules import Rule
from storage.prices import load_prices

log = logging.getLogger(__name__)


def spread_chart(db: Database, reply: SpreadReply) -> bytes | None:
    """Both legs rebased over the spread's window, with the spread beneath."""
    spec = reply.chart
    market = MarketData(prices=load_prices(db, list(spec.legs), start=spec.start, end=spec.end))
    title = f"{reply.a.symbol} vs {reply.b.symbol} ({reply.window})"
    return _render(spec, market, title)


def signal_chart(db: Database, rule: Rule, detail: SignalDetail) -> bytes | None:
    """The rule's chart over its recent history, or None when it has none."""
    if detail.chart is None:
        return None
    return _render(detail.chart, load_market(db, [rule]), detail.row.title)


def _render(spec: ChartSpec, market: MarketData, title: str) -> bytes | None:
    from bot.charts import render_chart  # lazy: matplotlib is slow to import

    try:
        return render_chart(spec, market, title=title)
    except Exception as error:  # the numbers still answer the question without a chart
        log.warning("no chart for %s: %s", title, error)
        return None

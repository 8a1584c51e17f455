"""Answer `/spread` from the price cache quickly: load only the rows the window needs.

A chat spread over `ytd` needs a few hundred rows, not 25,000 years of ^GSPC, so the rows are
loaded from a conservative lower bound before the window's anchor. If that bound was too
tight (gaps in the data, a sessions window over a sparse file) the engine reports short
history, and the query is repeated on the full history so the answer never differs from
the engine's on all data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta

from bot.chat.replies import LegReply, SpreadReply
from signals.legs import DataError
from signals.measures import Basis, WindowError, spread
from signals.models import ChartSpec, LegReturn, MarketData, SpreadReport
from storage.db import Store
from storage.prices import last_final_date, load_prices

_MARGIN = timedelta(days=40)  # longer than any market closure plus a missing stretch
_MONTHS = {"1m": 1, "3m": 3, "6m": 6, "1y": 12}
_SESSIONS = re.compile(r"^(\d+)d$")


def load_start(window: str, end: date) -> date:
    """A date early enough that the window's anchor session ending at `end` is loaded."""
    if window == "ytd":
        anchor = date(end.year, 1, 1)
    elif window == "qtd":
        anchor = date(end.year, 3 * ((end.month - 1) // 3) + 1, 1)
    elif window == "mtd":
        anchor = end.replace(day=1)
    elif window in _MONTHS:
        anchor = end - timedelta(days=31 * _MONTHS[window])
    elif (match := _SESSIONS.match(window)) is not None:
        # ~252 sessions a year: 1.5 calendar days per session is generous.
        anchor = end - timedelta(days=int(match[1]) * 3 // 2)
    elif window.startswith("since:"):
        anchor = date.fromisoformat(window[6:])
    else:
        raise WindowError(f"unknown window {window!r}")
    return anchor - _MARGIN


def spread_from_cache(
    db: Store,
    a: str,
    b: str,
    window: str,
    *,
    as_of: date | None = None,
    basis: Basis = "total",
) -> SpreadReport:
    """The engine's `spread` over cached prices, loading only the rows the window needs."""
    ends = [d for d in (last_final_date(db, a), last_final_date(db, b)) if d is not None]
    end = as_of or (min(ends) if ends else None)
    if end is not None:
        try:
            return spread(_market(db, (a, b), load_start(window, end)), a, b, window, as_of, basis)
        except DataError:
            pass  # possibly our lower bound; the full history gives the definitive answer
    return spread(_market(db, (a, b), None), a, b, window, as_of, basis)


def _market(db: Store, symbols: Sequence[str], start: date | None) -> MarketData:
    return MarketData(prices=load_prices(db, list(dict.fromkeys(symbols)), start=start))


def spread_reply(report: SpreadReport, notes: tuple[str, ...] = ()) -> SpreadReply:
    """The platform-neutral answer for an engine `SpreadReport`."""
    a, b = _leg(report.a), _leg(report.b)
    start = min(report.a.start, report.b.start)
    chart = ChartSpec(
        kind="relative",
        legs=(a.symbol, b.symbol),
        start=start,
        end=report.as_of,
        basis="adj_close" if report.basis == "total" else "close",
        spread_unit="bps",
    )
    text = (
        f"{a.symbol} {a.return_pct:+.2f}% vs {b.symbol} {b.return_pct:+.2f}% "
        f"({report.window}, {report.basis} return): spread {report.spread_bps:+,.0f} bps, "
        f"from {start.isoformat()} to {report.as_of.isoformat()}"
    )
    if report.a.end != report.b.end:
        notes = (*notes, f"Legs end on different sessions: {a.symbol} {a.end}, {b.symbol} {b.end}.")
    return SpreadReply(
        a, b, report.window, report.basis, report.as_of,
        report.spread_bps, report.spread_pp, chart, text, notes,
    )  # fmt: skip


def _leg(leg: LegReturn) -> LegReply:
    return LegReply(leg.name, leg.pct, leg.start, leg.end, leg.start_value, leg.end_value)

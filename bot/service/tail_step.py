"""A check after new bars steps a rule from its stored state on a bounded tail of history.

A rule with a stored state only steps the bars after `state.last_session`; what those bars
need is the measure at each of them, which for a window kind reads no further back than its
window. Such a rule is evaluated on the market cut to a tail that starts well before its
window does (`tail_start`), not on its whole history: its frame is a few hundred bars, not
eight thousand. The evaluation is the one the full history gives (a test checks it session
by session on real data). Every other rule is evaluated on the whole market: a rule never
stepped (priming reads its whole history), intraday rules, `new_high` without a lookback
(an all-time record), `extreme_since` (an extreme since a date), `rate_change` (its summary
names the last change, however long ago) and `since:` windows. A rule whose new bars are
quiet gets no frame at all (`bot.service.bar_steps`): this is for the rules that remain.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TypeVar

import pandas as pd

from signals.models import MarketData, RuleState
from signals.rules import Curve, NewHigh, PairRule, RallyFromLow, Rule

_Indexed = TypeVar("_Indexed", pd.DataFrame, pd.Series)

# Calendar days before a window's start that the tail keeps besides the window itself:
# holidays, holes and the anchor bar before the window's first session.
MARGIN = timedelta(days=60)


def tail_start(rule: Rule, state: RuleState | None, as_of: date | None = None) -> date | None:
    """The first day of the history that evaluating the rule's new bars reads, or None when
    they need the whole history (or the rule was never stepped: priming reads it all; or it
    is evaluated as of a day before its state's last session)."""
    if rule.intraday or state is None or state.last_session is None:
        return None
    if as_of is not None and as_of < state.last_session:
        return None
    span = _span_days(rule)
    return None if span is None else state.last_session - timedelta(days=span) - MARGIN


def _span_days(rule: Rule) -> int | None:
    """Calendar days a window kind's measure at a bar reads back (twice its sessions or bars:
    1.4 calendar days a session), or None for kinds reading the whole history."""
    if isinstance(rule, PairRule):
        window = rule.parsed_window
        if window.kind == "sessions":
            return 2 * window.count
        if window.kind == "months":
            return 31 * window.count
        if window.kind in ("ytd", "qtd", "mtd"):
            return 366  # the period's anchor is the last close of the previous year at most
        return None  # since:DATE
    if isinstance(rule, RallyFromLow):
        return 2 * rule.lookback
    if isinstance(rule, NewHigh) and rule.lookback is not None:
        return 2 * max(rule.lookback, rule.min_history)  # a record over the lookback only
    if isinstance(rule, Curve):
        # A change over `sessions` observations of series that may be monthly.
        return 31 * rule.sessions if rule.mode == "change" and rule.sessions else 0
    return None


class Tails:
    """The market cut at each tail start asked for, once per start (its memo shared by every
    rule on that tail, as the whole market's is)."""

    def __init__(self, market: MarketData, *, whole: bool = False) -> None:
        self._market, self._whole = market, whole
        self._cut: dict[date, MarketData] = {}

    def of(self, rule: Rule, state: RuleState | None, as_of: date | None) -> MarketData:
        """The market a rule's new bars are evaluated on: its tail, or the whole market
        (always, when made `whole`)."""
        start = None if self._whole else tail_start(rule, state, as_of)
        if start is None:
            return self._market
        if start not in self._cut:
            self._cut[start] = cut_from(self._market, start)
        return self._cut[start]


def cut_from(market: MarketData, start: date) -> MarketData:
    """The market from `start` on: every price frame and series from its last bar before
    `start`, and the sessions from the earliest of those (notes kept). A hole that begins
    before `start` is seen whole, from the bar before it, as on the whole history."""
    stamp = pd.Timestamp(start)
    prices = {name: _from_bar_before(frame, stamp) for name, frame in market.prices.items()}
    series = {name: _from_bar_before(values, stamp) for name, values in market.series.items()}
    firsts = [values.index[0] for values in [*prices.values(), *series.values()] if len(values)]
    first = min([stamp, *firsts])
    sessions = market.sessions
    return MarketData(
        prices=prices,
        series=series,
        sessions=None if sessions is None else sessions[sessions >= first],
        series_notes=market.series_notes,
    )


def _from_bar_before(values: _Indexed, stamp: pd.Timestamp) -> _Indexed:
    """The rows from the last one before `stamp` on (all rows when none is before it)."""
    at = int(values.index.searchsorted(stamp, side="left"))
    return values.iloc[max(at - 1, 0) :]

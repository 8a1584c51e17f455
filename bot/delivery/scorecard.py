"""The weekly scorecard of the digest: rules that fired in the last quarter, and how their
moves since compare with what followed their earlier firings (issue 23).

It appears in the digest of the first session of each week, for the rules the event log
shows active in the quarter (the firings the desk was alerted about). The market is read from
storage (whole histories of the rules' legs: the records need them) and the records come
from the per-data-version cache, so a digest re-queued for the same data recomputes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, timedelta

import pandas as pd

from bot import calendar
from bot.outcomes import TRACK_RECORDS
from signals.legs import split_expression
from signals.models import MarketData
from signals.outcome_text import scorecard_text
from signals.rules import Rule
from signals.scorecard import score_recent
from storage.db import Store
from storage.prices import load_prices
from storage.rule_state import rules_with_events_between
from storage.series import load_series
from storage.versioning import data_version

log = logging.getLogger(__name__)

QUARTER = timedelta(days=91)  # "fired in the last quarter": the 91 days up to the session


def is_first_session_of_week(session: date) -> bool:
    """True on the week's first NYSE session (Monday, or the day after a Monday holiday)."""
    before = calendar.previous_session(session)
    return before.isocalendar()[:2] != session.isocalendar()[:2]


def weekly_scorecard(
    db: Store, rules: Sequence[Rule], session: date, *, market: MarketData | None = None
) -> tuple[str, ...]:
    """One line per firing of the last quarter up to `session`; () on other days of the week.

    `market`: data already loaded on the same data version (the session's check), used when
    it holds every leg the scored rules read; else their histories are loaded here.
    """
    try:
        if not rules or not is_first_session_of_week(session):
            return ()
        rules = _alerted_lately(db, rules, session)
        if not rules:
            return ()
        if market is None or not _holds(market, rules):
            market = _market(db, rules, session)
    except calendar.CalendarRangeError as error:
        log.warning("no weekly scorecard for %s: %s", session, error)
        return ()
    version = data_version(db)  # a given market is of this version: callers reuse a check only then
    lines: list[str] = []
    for rule in rules:
        record = TRACK_RECORDS.record(rule, market, version=version, as_of=session)
        if record is not None:
            lines += [scorecard_text(s) for s in score_recent(record, session - QUARTER)]
    return tuple(lines)


def _alerted_lately(db: Store, rules: Sequence[Rule], session: date) -> list[Rule]:
    """The rules with an event logged in the quarter up to `session`: only they can have fired
    in it, so only their histories are loaded. Events after `session` do not count: a digest
    of a past session (a replay, a late catch-up) must read as it did on the day."""
    alerted = rules_with_events_between(db, session - QUARTER, session)
    return [rule for rule in rules if rule.id in alerted]


def _leaves(rules: Sequence[Rule]) -> list[str]:
    return sorted({leaf for r in rules for leg in r.legs() for leaf in split_expression(leg)})


def _holds(market: MarketData, rules: Sequence[Rule]) -> bool:
    return all(leaf in market.prices or leaf in market.series for leaf in _leaves(rules))


def _market(db: Store, rules: Sequence[Rule], session: date) -> MarketData:
    """The rules' legs, whole histories up to `session`, with the NYSE sessions (holes)."""
    leaves = _leaves(rules)
    series = {k: v[v.index <= pd.Timestamp(session)] for k, v in load_series(db, leaves).items()}
    days = calendar.sessions_between(calendar.CALENDAR_START, session)
    sessions = pd.DatetimeIndex([pd.Timestamp(day) for day in days], name="date")
    return MarketData(load_prices(db, leaves, end=session), series, sessions=sessions)

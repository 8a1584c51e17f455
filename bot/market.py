"""The market the rules read, as stored, and the sessions and expectations they are checked
against: shared by the service's checks and the digest's what-if (`bot.what_if`), so that
delivery (the digest) needs nothing from the service above it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from functools import cache

import pandas as pd

from bot import calendar
from bot.sources.valuation import series_notes
from signals.legs import split_expression
from signals.models import MarketData
from signals.rules import Rule
from storage.db import Store
from storage.prices import load_price_columns, load_prices
from storage.series import load_series
from storage.versioning import data_version

# Where `load_market` notes, in the market's memo, the data version it loaded (read first).
LOADED_VERSION = ("data version loaded",)


def expected_last_session(now: datetime) -> date:
    """The last NYSE session whose close has passed at `now` (holidays, early closes)."""
    return calendar.last_completed_session(now)


def rule_leaves(rules: Iterable[Rule]) -> list[str]:
    """Every symbol and series id the rules read."""
    return sorted({leaf for rule in rules for leg in rule.legs() for leaf in split_expression(leg)})


def load_market(db: Store, rules: Iterable[Rule], *, end: date | None = None) -> MarketData:
    """The stored prices (final and provisional) and series the rules read, up to `end`.

    Without `end`, the market notes the data version read before loading (`loaded_version`):
    whatever is derived from it may be kept under that version.
    """
    version = data_version(db)
    leaves = rule_leaves(rules)
    prices = load_prices(db, leaves, end=end)
    series = load_series(db, leaves)
    if end is not None:
        series = {k: v[v.index <= pd.Timestamp(end)] for k, v in series.items()}
    notes = series_notes(db)
    market = MarketData(
        prices=prices, series=series, sessions=nyse_sessions(date.today()), series_notes=notes
    )
    if end is None:
        market.memo[LOADED_VERSION] = version
    return market


def load_backtest_market(db: Store, rules: Sequence[Rule]) -> MarketData:
    """`load_market` for the events of a backtest: of each symbol only `final` and the columns
    the rules' measures read (`signals.frames.leg_specs`), all the engine reads of a bar to
    step a rule. Not for checks, track records or charts, which read more of each bar."""
    from signals.frames import leg_specs  # the engine: not for the modules that only load

    wanted: dict[str, set[str]] = {leaf: set() for leaf in rule_leaves(rules)}
    for rule in rules:
        for name, column, _ in leg_specs(rule):
            for leaf in split_expression(name):
                wanted.setdefault(leaf, set()).add(column)
    return MarketData(
        prices=load_price_columns(db, wanted),
        series=load_series(db, list(wanted)),
        sessions=session_index(date.today()),
        series_notes=series_notes(db),
    )


@cache
def session_index(today: date) -> pd.DatetimeIndex:
    """`nyse_sessions(today)`, the same index built from the days' ordinals at once rather
    than a Timestamp per session (a backtest's start builds it once: 9,000 sessions)."""
    import numpy as np

    days = calendar.sessions_between(calendar.CALENDAR_START, today)
    unit = pd.DatetimeIndex([pd.Timestamp(days[0])]).dtype  # as a Timestamp per day gives it
    ordinals = np.fromiter((day.toordinal() for day in days), np.int64, len(days))
    epoch = (ordinals - date(1970, 1, 1).toordinal()).astype("datetime64[D]")
    return pd.DatetimeIndex(epoch.astype(unit), name="date")


def loaded_version(market: MarketData) -> int | None:
    """The data version `load_market` read before loading this market (None if unknown)."""
    return market.memo.get(LOADED_VERSION)


@cache
def nyse_sessions(today: date) -> pd.DatetimeIndex:
    """Every NYSE session from the calendar's start to `today`: what a price leg should have."""
    days = calendar.sessions_between(calendar.CALENDAR_START, today)
    return pd.DatetimeIndex([pd.Timestamp(day) for day in days], name="date")

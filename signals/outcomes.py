"""What happened after a rule's past firings: its track record, pure (market data in).

For every episode a rule fired since the start of its history, the move of what the rule
watches over the next N sessions (a month is 21 sessions, three 63, six 126; configurable):
a two-leg rule's spread A − B in bps (A's return minus B's), one price leg's return in %, a
rate's change in bps, a ratio series' (P/B, P/E) relative change in %. The base rate is the
same move from every session of the rule's history, so a desk can tell a signal from the
market's drift.

No look-ahead: a firing counts only when its whole forward window is in the data (the
shortest leg decides where the data ends); one whose window ends in a hole of a leg is left
out and counted apart, never filled with a stale value. Each episode counts once; firings
whose windows overlap an earlier counted one's are not independent, and the summary says how
many were (greedy: a firing starts a new independent window once the last one has passed).

A monthly series is measured on the same clock of sessions: each value is placed on the first
session on or after its date (never earlier: no look-ahead), and a window of N sessions ends
on the value nearest to the N-th session (3M from a month end is the month end 3 months on,
not 63 months on); a window whose N-th session is past the data's last value does not count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from signals.frames import RuleFrame, curve_expression, rule_frame, shared_leg
from signals.legs import is_monthly, split_expression
from signals.measures import basis_column
from signals.memo import scoped, shared
from signals.models import Event, MarketData
from signals.names import display_name
from signals.outcome_clock import nearest_valued, on_sessions, session_clock
from signals.quality import is_ratio_series
from signals.rules import Curve, ExtremeSince, NewHigh, PairRule, RallyFromLow, RateChange, Rule

MoveKind = Literal["spread", "return", "relative", "change"]


@dataclass(frozen=True)
class Horizon:
    """A forward window: its label (`3M`) and its length in sessions of the legs' calendar."""

    label: str
    sessions: int


# Months as sessions: 21 a month (252 a year), the NYSE's usual count.
DEFAULT_HORIZONS = (Horizon("1M", 21), Horizon("3M", 63), Horizon("6M", 126))


@dataclass(frozen=True)
class Tracked:
    """What a rule's outcome measures: two legs' spread, one leg's return or a change."""

    kind: MoveKind
    legs: tuple[str, ...]
    column: str
    unit: str  # "bps", "%" or "pts" (a change of a stored series that is not a rate or ratio)
    scale: float = 1.0  # a change's multiplier: percent rates to bps
    # Monthly (or sparser) values: a window ends on the value nearest its last session.
    stepwise: bool = False

    @property
    def label(self) -> str:
        """How a desk names it: `IWM − IWB`, `^RUT`, `small-cap P/B / large-cap P/B`."""
        return " − ".join(display_name(leaf) for leg in self.legs for leaf in _named(leg))


def _named(leg: str) -> tuple[str, ...]:
    return split_expression(leg) if " - " in leg else (leg,)


@dataclass(frozen=True)
class Summary:
    """Count, independent windows, median, how many were positive, best and worst."""

    count: int
    independent: int
    median: float | None
    positive: int
    best: float | None
    worst: float | None

    @property
    def share_positive(self) -> float | None:
        """The share of positive moves, 0..1 (None without any)."""
        return self.positive / self.count if self.count else None


@dataclass(frozen=True)
class HorizonOutcome:
    """One horizon's firings (`moves`: firing date and move), their summary and the base."""

    horizon: Horizon
    firings: Summary
    base: Summary
    moves: tuple[tuple[date, float], ...]
    pending: int  # fired too recently: the window has not passed yet
    gaps: int  # the window ends in a hole of a leg: not measurable


@dataclass(frozen=True)
class TrackRecord:
    """A rule's past firings and what followed them, per horizon."""

    rule_id: str
    tracked: Tracked
    since: date | None  # the first session the rule could have fired on
    until: date | None  # the last session every leg has
    fired: tuple[date, ...]  # one date per episode, oldest first
    horizons: tuple[HorizonOutcome, ...]
    # The legs on their common calendar, for the chart of forward paths (`forward_paths`).
    grid: pd.DataFrame = field(repr=False, compare=False, default_factory=pd.DataFrame)

    def at(self, label: str) -> HorizonOutcome | None:
        """The outcome over the horizon labelled `label`, if computed."""
        return next((h for h in self.horizons if h.horizon.label == label), None)


def tracked_of(rule: Rule, market: MarketData) -> Tracked:
    """What the outcome of `rule` measures (see the module docstring)."""
    if isinstance(rule, PairRule):
        return Tracked("spread", (rule.a, rule.b), basis_column(rule.basis), "bps")
    if isinstance(rule, Curve):
        return Tracked("change", (curve_expression(rule),), "adj_close", "bps", 100.0)
    if isinstance(rule, RateChange):
        return Tracked("change", (rule.series,), "adj_close", "bps", 100.0)
    if isinstance(rule, NewHigh):
        return Tracked("return", (rule.symbol,), "adj_close", "%")
    if isinstance(rule, RallyFromLow):
        return Tracked("return", (rule.symbol,), basis_column(rule.basis), "%")
    assert isinstance(rule, ExtremeSince)
    return _extreme_tracked(rule, market)


def _extreme_tracked(rule: ExtremeSince, market: MarketData) -> Tracked:
    """A ratio of two prices is their spread; one price its return; anything else a change."""
    leaves = split_expression(rule.series)
    priced = all(leaf in market.prices for leaf in leaves)
    column = basis_column(rule.basis)
    if priced and len(leaves) == 2 and " / " in rule.series:
        return Tracked("spread", leaves, column, "bps")
    if priced and len(leaves) == 1:
        return Tracked("return", leaves, column, "%")
    if len(leaves) == 1 and is_ratio_series(rule.series):
        # A ratio of 0.40 moving by 0.01 is a 2.5 % move: points with two decimals say nothing.
        return Tracked("relative", (rule.series,), column, "%")
    return Tracked("change", (rule.series,), column, "pts")


def track_record(
    rule: Rule,
    market: MarketData,
    events: Sequence[Event],
    *,
    horizons: Sequence[Horizon] = DEFAULT_HORIZONS,
    built: RuleFrame | None = None,
    as_of: date | None = None,
) -> TrackRecord:
    """The track record of `rule` from its backtest `events`, on the data up to `as_of`.

    `built` is the rule's frame up to `as_of` when the caller already has it. Events after
    `as_of` are ignored: nothing later than `as_of` is read.
    """
    if as_of is not None:
        events = [event for event in events if event.date <= as_of]
    fired = _episode_dates(events)
    return record_of_firings(rule, market, fired, horizons=horizons, built=built, as_of=as_of)


def record_of_firings(
    rule: Rule,
    market: MarketData,
    fired: tuple[date, ...],
    *,
    horizons: Sequence[Horizon] = DEFAULT_HORIZONS,
    built: RuleFrame | None = None,
    as_of: date | None = None,
) -> TrackRecord:
    """`track_record` from the day each episode fired (`fired`, oldest first, none after
    `as_of`) instead of the events: all a record reads of them (`signals.firings`)."""
    tracked = tracked_of(rule, market)
    # Final bars only, even for an intraday rule: a bar still trading is no outcome yet.
    # Records on the same legs (windows and thresholds apart) share the grid in a check.
    grid, stepwise = shared(
        scoped(market, as_of),
        ("outcome grid", tracked),
        lambda: _grid(tracked, market, as_of),
    )
    tracked = replace(tracked, stepwise=stepwise)
    built = built if built is not None else rule_frame(rule, market, as_of)
    since = _history(built)
    outcomes = tuple(_horizon(tracked, grid, since, fired, h) for h in horizons)
    until = grid.index[-1].date() if len(grid) else None
    return TrackRecord(rule.id, tracked, since, until, fired, outcomes, grid)


def _grid(tracked: Tracked, market: MarketData, as_of: date | None) -> tuple[pd.DataFrame, bool]:
    """The legs on one calendar, from the latest first date to the earliest last date, and
    whether a leg is monthly (its values are placed on sessions, not carried: `moves`).

    Prices: every date either leg has, and the exchange's sessions; a leg's missing date
    stays NaN (a hole is never filled). Stored series (rates) hold their value until the next
    one, so they are read on the exchange's sessions when known, else on their own dates.
    """
    legs = [
        shared_leg(market, leg, tracked.column, True, tracked.kind != "change", as_of)
        for leg in tracked.legs
    ]
    if any(values.empty for values in legs):
        empty = pd.DatetimeIndex([], name="date")
        frame = pd.DataFrame(columns=list(range(len(legs))), index=empty, dtype="float64")
        return frame, False
    first = max(values.index[0] for values in legs)
    last = min(values.index[-1] for values in legs)
    priced = all(leaf in market.prices for leg in tracked.legs for leaf in split_expression(leg))
    monthly = not priced and any(is_monthly(values) for values in legs)
    if monthly:
        clock = session_clock(market.sessions, first, last)
        return pd.DataFrame({i: on_sessions(v, clock) for i, v in enumerate(legs)}), True
    if not priced and market.sessions is not None:
        dates = market.sessions[(market.sessions >= first) & (market.sessions <= last)]
        return pd.DataFrame(
            {i: v.reindex(dates, method="ffill") for i, v in enumerate(legs)}
        ), False
    dates = legs[0].index
    for values in legs[1:]:
        dates = dates.union(values.index)
    if market.sessions is not None:
        dates = dates.union(market.sessions)
    dates = dates[(dates >= first) & (dates <= last)]
    return pd.DataFrame({i: values.reindex(dates) for i, values in enumerate(legs)}), False


def _history(built: RuleFrame) -> date | None:
    """The first session the rule had a measure on (a final bar), or None."""
    frame = built.frame
    usable = frame.index[frame["x"].notna().to_numpy() & frame["final"].to_numpy(dtype=bool)]
    return usable[0].date() if len(usable) else None


def _episode_dates(events: Sequence[Event]) -> tuple[date, ...]:
    """The day each episode fired, once per episode (a once_per_bar rule fires many times)."""
    first: dict[str, date] = {}
    for event in events:
        if event.kind == "fired" and event.episode not in first:
            first[event.episode] = event.date
    return tuple(sorted(first.values()))


def moves(tracked: Tracked, grid: pd.DataFrame, sessions: int) -> np.ndarray:
    """The move from each row of `grid` to the row `sessions` later (NaN past the end).

    Stepwise (monthly) legs: from each row that has a value to the valued row nearest the
    row `sessions` later (rows without a value start no move).
    """
    start = grid.to_numpy(dtype=np.float64)
    end = np.full_like(start, np.nan)
    if tracked.stepwise:
        ends = nearest_valued(start, sessions)
        reached = ends >= 0
        end[reached] = start[ends[reached]]
    elif sessions < len(start):
        end[: len(start) - sessions] = start[sessions:]
    return _move(tracked, start, end)


def _move(tracked: Tracked, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The move from `start` to `end` (rows of leg values) in the tracked unit."""
    if tracked.kind == "spread":
        returns = end / start - 1.0
        return (returns[:, 0] - returns[:, 1]) * 10_000.0
    if tracked.kind in ("return", "relative"):
        return (end[:, 0] / start[:, 0] - 1.0) * 100.0
    return (end[:, 0] - start[:, 0]) * tracked.scale


def _horizon(
    tracked: Tracked,
    grid: pd.DataFrame,
    since: date | None,
    fired: tuple[date, ...],
    horizon: Horizon,
) -> HorizonOutcome:
    every = moves(tracked, grid, horizon.sessions)
    ends = window_ends(tracked, grid, horizon.sessions)
    on_grid = firing_rows(grid, fired)
    passed = on_grid[on_grid + horizon.sessions < len(grid)]
    counted = passed[~np.isnan(every[passed])]
    first = len(grid) if since is None else int(grid.index.searchsorted(pd.Timestamp(since)))
    base_at = np.arange(first, max(len(grid) - horizon.sessions, first))
    base_at = base_at[~np.isnan(every[base_at])]
    days = grid.index[counted].date
    return HorizonOutcome(
        horizon=horizon,
        firings=summarize_moves(every[counted], counted, horizon.sessions, ends[counted]),
        base=summarize_moves(every[base_at], base_at, horizon.sessions, ends[base_at]),
        moves=tuple(zip(days, (float(v) for v in every[counted]), strict=True)),
        pending=int(len(fired) - len(passed)),  # on a bar the legs do not have yet, too
        gaps=int(len(passed) - len(counted)),
    )


def firing_rows(grid: pd.DataFrame, fired: Sequence[date]) -> np.ndarray:
    """The grid row of each firing: its date, or the first session after it (a rate that
    changed on a weekend is first seen on the next session)."""
    rows = grid.index.searchsorted(pd.DatetimeIndex(fired), side="left")
    return np.asarray(rows[rows < len(grid)], dtype=np.int64)


def window_ends(tracked: Tracked, grid: pd.DataFrame, sessions: int) -> np.ndarray:
    """The row each row's window of `sessions` ends on (a monthly one: its nearest value)."""
    if tracked.stepwise:
        return nearest_valued(grid.to_numpy(dtype=np.float64), sessions)
    return np.arange(len(grid), dtype=np.int64) + sessions


def summarize_moves(
    values: np.ndarray, positions: np.ndarray, sessions: int, ends: np.ndarray | None = None
) -> Summary:
    """The summary of moves starting at `positions` (sorted) over `sessions`-long windows
    (or windows ending on the rows `ends`, when given)."""
    if not len(values):
        return Summary(0, 0, None, 0, None, None)
    return Summary(
        count=len(values),
        independent=independent_windows(positions, sessions, ends),
        median=float(np.median(values)),
        positive=int((values > 0).sum()),
        best=float(values.max()),
        worst=float(values.min()),
    )


def independent_windows(
    positions: np.ndarray, sessions: int, ends: np.ndarray | None = None
) -> int:
    """How many windows of `sessions` starting at sorted `positions` (ending on the rows
    `ends`, when given) do not overlap: each counted window is followed by the first start
    at or after its end."""
    ends = positions + sessions if ends is None else ends
    # Each start's next independent start, found at once; then the greedy chain is a walk.
    following = np.searchsorted(positions, ends, side="left").tolist()
    count, at = 0, 0
    while at < len(following):
        count += 1
        at = following[at]
    return count


def forward_paths(record: TrackRecord, sessions: int) -> pd.DataFrame:
    """The path of the move after each firing whose window has passed: one column per firing
    date, rows 0..`sessions` (sessions after the firing); NaN where a leg has a hole."""
    grid = record.grid
    positions = firing_rows(grid, record.fired)
    positions = positions[positions + sessions < len(grid)]
    columns = {}
    everything = grid.to_numpy(dtype=np.float64)
    if record.tracked.stepwise:  # each session reads its nearest value, as `moves` does
        everything = everything[nearest_valued(everything, 0)]
    for position in positions:
        values = everything[position : position + sessions + 1]
        columns[grid.index[position].date()] = _move(record.tracked, values[:1], values)
    return pd.DataFrame(columns, index=pd.RangeIndex(sessions + 1, name="session"))


def base_band(record: TrackRecord, sessions: int, spread: float = 0.25) -> pd.DataFrame:
    """The base rate as a band: per session 0..`sessions` after any session of the rule's
    history, the `spread` and 1 - `spread` quantiles and the median of the move."""
    grid = record.grid
    if record.since is not None:
        grid = grid[grid.index >= pd.Timestamp(record.since)]
    rows = []
    for step in range(sessions + 1):
        every = moves(record.tracked, grid, step)
        every = every[~np.isnan(every)]
        if len(every):
            rows.append(np.quantile(every, (spread, 0.5, 1.0 - spread)))
        else:
            rows.append(np.full(3, np.nan))
    index = pd.RangeIndex(sessions + 1, name="session")
    return pd.DataFrame(rows, index=index, columns=["low", "median", "high"])

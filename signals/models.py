"""Plain, frozen data shared by every layer: bars, series points, market data and events."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # only annotations: reading events and states needs no pandas
    import pandas as pd

# Columns of a price frame, in order; the index is the session date (tz-naive, midnight).
PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close", "volume", "final")

EventKind = Literal["fired", "reversed"]
Direction = Literal["up", "down", "neutral"]


@dataclass(frozen=True, slots=True)
class PriceBar:
    """One daily bar as a data source delivers it; missing values are None."""

    symbol: str
    date: date
    open: float | None = None
    high: float | None = None
    low: float | None = None
    close: float | None = None
    adj_close: float | None = None
    volume: float | None = None
    final: bool = True
    source: str = "unknown"

    def has_value(self) -> bool:
        """True when at least one price or volume is present."""
        values = (self.open, self.high, self.low, self.close, self.adj_close, self.volume)
        return any(v is not None and not math.isnan(v) for v in values)


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One dated value of a stored series (FRED rate, P/E snapshot, ...)."""

    series_id: str
    date: date
    value: float
    source: str = "unknown"


@dataclass(frozen=True)
class MarketData:
    """Everything a rule may read: price frames per symbol and stored series.

    `prices[symbol]` has the columns `PRICE_COLUMNS` and a sorted DatetimeIndex.
    """

    prices: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    series: Mapping[str, pd.Series] = field(default_factory=dict)
    # The exchange's sessions, when the caller knows them: runs of sessions missing from a
    # price leg are then holes no measure is computed across (signals.holes).
    sessions: pd.DatetimeIndex | None = None
    # What a stored series' alert says about its data (source, vintage, publication lag).
    series_notes: Mapping[str, str] = field(default_factory=dict)
    # Results many rules share (cleaned legs, window returns; see signals.memo), per instance:
    # `replace()` gives a new, empty one.
    memo: dict[tuple[object, ...], Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )


ChartKind = Literal["relative", "new_high", "extreme", "level"]


@dataclass(frozen=True)
class ChartSpec:
    """What to draw for an event; the chart itself is rendered in `bot/` at delivery time.

    `legs` are names `signals.series_expr.resolve_series` understands: a symbol, a stored
    series id, or `A / B` and `A - B` of those. `relative` rebases two legs to 100 from
    `start` and draws their spread beneath; `new_high`, `extreme` and `level` draw one leg
    and mark `reference_date`/`reference_value` (previous record, prior extreme, a level).
    `spread_unit` is the unit the alert states the spread in, so the chart says the same;
    a `relative` chart's `reference_value` is the spread threshold in that unit (a line).
    """

    kind: ChartKind
    legs: tuple[str, ...]
    start: date
    end: date
    reference_date: date | None = None
    reference_value: float | None = None
    basis: Literal["adj_close", "close", "high"] = "adj_close"
    spread_unit: Literal["pp", "bps"] = "pp"
    since_line: date | None = None  # an `extreme` chart's "since" date, drawn as a vertical line


@dataclass(frozen=True)
class Event:
    """A rule fired or reversed on a final bar (or a provisional one for intraday rules).

    `episode` identifies one firing episode (the session it fired on, ISO date), so
    (rule_id, episode, kind) is the alert's dedupe key both live and in a backtest.
    """

    rule_id: str
    kind: EventKind
    date: date
    episode: str
    title: str
    measure: float
    threshold: float | None = None
    unit: str = ""
    direction: Direction = "neutral"
    symbols: tuple[str, ...] = ()
    description: str = ""
    fields: tuple[tuple[str, str], ...] = ()
    context: Mapping[str, Any] = field(default_factory=dict)
    chart: ChartSpec | None = None

    @property
    def dedupe_key(self) -> str:
        """Stable key for one alert: rule, episode and kind."""
        return f"{self.rule_id}:{self.episode}:{self.kind}"


# --- Signal engine results (issue 3) -------------------------------------------------------

Phase = Literal["inactive", "pending", "firing"]
Status = Literal["OK", "NO DATA", "STALE"]


@dataclass(frozen=True)
class LegReturn:
    """One leg of a spread: the return of `name` from `start` to `end` (both sessions used)."""

    name: str
    start: date
    end: date
    start_value: float
    end_value: float
    ret: float  # fraction: 0.124 = +12.4 %

    @property
    def pct(self) -> float:
        """The return in percent."""
        return self.ret * 100.0


@dataclass(frozen=True)
class SpreadReport:
    """A's return over a window minus B's, in percentage points and basis points."""

    a: LegReturn
    b: LegReturn
    window: str
    basis: Literal["total", "price"]
    as_of: date

    @property
    def spread_pp(self) -> float:
        """A's return minus B's, in percentage points."""
        return (self.a.ret - self.b.ret) * 100.0

    @property
    def spread_bps(self) -> float:
        """A's return minus B's, in basis points."""
        return (self.a.ret - self.b.ret) * 10_000.0


@dataclass(frozen=True)
class SideState:
    """The anti-flap state of one side (up or down) of a rule."""

    phase: Phase = "inactive"
    streak: int = 0  # consecutive bars the condition has held while pending
    episode: str | None = None  # ISO date the current or last episode fired


@dataclass(frozen=True)
class RuleState:
    """A rule's persisted state: one `SideState` per side, cooldown and counters."""

    up: SideState = SideState()
    down: SideState = SideState()
    cooldown: int = 0  # bars to wait before the rule may fire again
    fired: int = 0  # episodes fired so far (trigger = "once" stops after the first)
    last_session: date | None = None  # last bar stepped through the state machine

    @property
    def phase(self) -> Phase:
        """The most advanced phase of either side (firing > pending > inactive)."""
        order = {"inactive": 0, "pending": 1, "firing": 2}
        return max((self.up.phase, self.down.phase), key=order.__getitem__)


@dataclass(frozen=True)
class Evaluation:
    """The result of evaluating one rule: status, current measure, new state and events."""

    rule_id: str
    status: Status
    reason: str
    state: RuleState
    events: tuple[Event, ...] = ()
    session: date | None = None  # the last bar evaluated
    measure: float | None = None
    threshold: float | None = None
    unit: str = ""
    summary: str = ""  # one line a desk reads, e.g. "IWC +12.4% vs OEF +11.9% YTD"

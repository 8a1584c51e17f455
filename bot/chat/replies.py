"""What chat commands answer: plain frozen dataclasses, never platform markup.

The command core (`bot/chat/core.py`) returns these; each adapter only formats them after
passing them through `bot.safety.sanitize(reply, platform)`. Every reply has a `text`: one
plain line an adapter can show as it is (or as the fallback text of a richer layout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from bot.platforms import PlatformName
from signals.models import ChartSpec


@dataclass(frozen=True)
class Actor:
    """Who runs a command: platform, user id, role ids, and whether settings make them admin."""

    platform: PlatformName
    user_id: str
    role_ids: tuple[str, ...] = ()
    is_admin: bool = False


@dataclass(frozen=True)
class LegReply:
    """One leg of a spread: its return and the two sessions it was measured between."""

    symbol: str
    return_pct: float
    start: date
    end: date
    start_value: float
    end_value: float


@dataclass(frozen=True)
class SpreadReply:
    """`/spread A B [window]`: both returns, A minus B in bps, the dates used and a chart."""

    a: LegReply
    b: LegReply
    window: str
    basis: Literal["total", "price"]
    as_of: date
    spread_bps: float
    spread_pp: float
    chart: ChartSpec
    text: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SignalRow:
    """One rule in `/signals`: state, measure against threshold, last time it fired."""

    rule_id: str
    title: str
    type: str
    status: str  # OK | NO DATA | STALE
    phase: str  # inactive | pending | firing
    reason: str
    measure: float | None
    threshold: float | None
    unit: str
    summary: str
    session: date | None
    last_fired: date | None
    muted_until: str | None = None
    origin: str = ""  # defaults, file or chat (<author>); empty when unknown


@dataclass(frozen=True)
class SignalsReply:
    """`/signals`: every rule, in rules-file order."""

    rows: tuple[SignalRow, ...]
    text: str


@dataclass(frozen=True)
class EventRow:
    """One past event of a rule (live or backtest)."""

    kind: str  # fired | reversed
    date: date
    measure: float
    title: str


@dataclass(frozen=True)
class BacktestSummary:
    """How often a rule fired over history."""

    since: date
    fired: int
    reversed: int
    first_fired: date | None
    last_fired: date | None
    recent: tuple[EventRow, ...] = ()  # its last backtest events, newest first


@dataclass(frozen=True)
class TrackRecordReply:
    """What followed a rule's past firings: the table per horizon, and the alert's line or
    why an alert carries none (fewer than 5 firings)."""

    heading: str
    table: str  # fixed-width rows (signals.outcome_text.outcome_table)
    line: str | None
    note: str | None
    chart_png: bytes | None = None  # the fan of past outcomes; None without a counted firing


@dataclass(frozen=True)
class SignalDetail:
    """`/signal ID`: the rule, its current evaluation, recent events, backtest and chart."""

    row: SignalRow
    description: str
    parameters: tuple[tuple[str, str], ...]
    last_events: tuple[EventRow, ...]
    backtest: BacktestSummary | None
    chart: ChartSpec | None
    subscribers: int
    text: str
    track_record: TrackRecordReply | None = None


@dataclass(frozen=True)
class SubscriptionReply:
    """Result of `/subscribe` or `/unsubscribe`."""

    action: Literal["subscribed", "updated", "unsubscribed", "not_subscribed"]
    rule_id: str
    mode: str | None
    removed: int
    text: str


@dataclass(frozen=True)
class SubscriptionRow:
    """One of a user's subscriptions."""

    rule_id: str
    mode: str
    since: str


@dataclass(frozen=True)
class SubscriptionsReply:
    """`/subscriptions`: a user's subscriptions on this platform (personal: reply privately)."""

    rows: tuple[SubscriptionRow, ...]
    text: str


@dataclass(frozen=True)
class MuteReply:
    """Result of `/mute` or `/unmute`."""

    action: Literal["muted", "unmuted", "not_muted"]
    rule_id: str
    until: str | None
    by: str
    text: str


@dataclass(frozen=True)
class AckReply:
    """Result of pressing Acknowledge: who acknowledged first, and whether it was this press."""

    alert_key: str
    first: bool
    platform: str
    user_id: str
    acked_at: str
    text: str


@dataclass(frozen=True)
class StatusReply:
    """`/status`: the service's health model (`bot.service.health.Health`) and its lines."""

    ok: bool
    problems: tuple[str, ...]
    lines: tuple[str, ...]
    health: Any
    text: str
    leader: str = ""  # `host:pid since ...` when replicas are registered


@dataclass(frozen=True)
class CommandHelp:
    """One command in `/help`."""

    name: str
    usage: str
    description: str
    admin_only: bool = False


@dataclass(frozen=True)
class HelpReply:
    """`/help`: every command with its usage."""

    commands: tuple[CommandHelp, ...]
    text: str
    windows: str = ""
    examples: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class RulePreview:
    """`/rule new|edit`: the rule as it will be stored, its backtest and chart, before Save."""

    token: str  # what the Save and Cancel buttons carry
    action: Literal["new", "edit"]
    rule_id: str
    title: str
    toml: str
    backtest: BacktestSummary | None
    last_events: tuple[EventRow, ...]  # the backtest's last five, newest first
    chart: ChartSpec | None
    expires_at: str
    text: str
    track_record: TrackRecordReply | None = None  # whether the threshold ever meant anything


@dataclass(frozen=True)
class RuleChangeReply:
    """A rule saved, discarded, disabled, enabled or deleted from chat, and by whom."""

    action: Literal["saved", "cancelled", "disabled", "enabled", "deleted"]
    rule_id: str
    by: str
    text: str


Reply = (
    SpreadReply
    | SignalsReply
    | SignalDetail
    | SubscriptionReply
    | SubscriptionsReply
    | MuteReply
    | AckReply
    | StatusReply
    | HelpReply
    | RulePreview
    | RuleChangeReply
)

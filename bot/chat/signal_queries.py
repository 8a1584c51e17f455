"""Answer `/signals` and `/signal ID` from stored data without changing any state.

Rules are evaluated with the engine's `check_rules(..., persist=False)`: nothing is saved and
no event is recorded, so asking never steals an alert from delivery. "Last fired" comes from
the live event log; the backtest count from the engine's `backtest_rule` since 2000.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import date, datetime, timedelta
from typing import Literal

from bot.chat.replies import BacktestSummary, EventRow, SignalDetail, SignalRow, TrackRecordReply
from bot.chat.signal_cache import SignalCache
from bot.outcomes import TRACK_RECORDS
from bot.service.evaluation import RuleCheck, check_rules, load_market
from signals.evaluate import backtest_rule
from signals.models import ChartKind, ChartSpec, Event, MarketData
from signals.outcome_text import outcome_line, outcome_table, record_heading, why_no_line
from signals.outcomes import TrackRecord
from signals.rules import ExtremeSince, Rule
from storage.db import Store
from storage.rule_state import last_events
from storage.subscriptions import Mute
from storage.versioning import data_version

log = logging.getLogger(__name__)

BACKTEST_START = date(2000, 1, 1)
RECENT_EVENTS = 5
_CHART_SPAN = timedelta(days=365)
ChartBasis = Literal["adj_close", "close", "high"]


def signal_rows(
    db: Store,
    rules: Sequence[Rule],
    now: datetime,
    mutes: Mapping[str, Mute],
    cache: SignalCache | None = None,
) -> list[SignalRow]:
    """Every rule's current state, measure against threshold and last firing.

    `cache`: the caller's `SignalCache`, so that repeated questions on unchanged data skip
    loading and re-priming (same answers).
    """
    if not rules:
        return []
    if cache is None:
        report = check_rules(db, rules, now=now, persist=False)
    else:
        report = cache.check(db, rules, now)
    return [_row(db, check, _mute_for(check.rule.id, mutes)) for check in report.checks]


def _mute_for(rule_id: str, mutes: Mapping[str, Mute]) -> str | None:
    found = mutes.get(rule_id) or mutes.get("all")
    return found.until if found else None


def _row(db: Store, check: RuleCheck, muted_until: str | None) -> SignalRow:
    evaluation = check.evaluation
    return SignalRow(
        rule_id=check.rule.id,
        title=check.rule.title,
        type=check.rule.type,
        status=evaluation.status,
        phase=evaluation.state.phase,
        reason=evaluation.reason,
        measure=evaluation.measure,
        threshold=evaluation.threshold,
        unit=evaluation.unit,
        summary=evaluation.summary,
        session=evaluation.session,
        last_fired=_last_fired(db, check),
        muted_until=muted_until,
    )


def _last_fired(db: Store, check: RuleCheck) -> date | None:
    if check.last_event is None:
        return None
    if check.last_event.kind == "fired":
        return check.last_event.date
    fired = [e for e in last_events(db, check.rule.id, limit=50) if e.kind == "fired"]
    return fired[0].date if fired else None


def signal_detail(
    db: Store, rule: Rule, now: datetime, mutes: Mapping[str, Mute], subscribers: int
) -> SignalDetail:
    """One rule: its current row, parameters, recent events, backtest since 2000 and a chart."""
    version = data_version(db)  # before loading: a write during the load is seen next time
    market = load_market(db, [rule])
    (check,) = check_rules(db, [rule], now=now, persist=False, market=market).checks
    row = _row(db, check, _mute_for(rule.id, mutes))
    recent = last_events(db, rule.id, limit=RECENT_EVENTS)
    backtest = _backtest(rule, market)
    text = f"{row.title}: {row.status}, {row.phase}. {row.summary or row.reason}".strip()
    return SignalDetail(
        row=row,
        description=rule.description,
        parameters=_parameters(rule),
        last_events=tuple(_event_row(e) for e in recent),
        backtest=backtest,
        chart=_chart(rule, row, recent),
        subscribers=subscribers,
        text=text,
        track_record=track_record_reply(TRACK_RECORDS.record(rule, market, version=version)),
    )


def track_record_reply(record: TrackRecord | None) -> TrackRecordReply | None:
    """The table, line and chart of a track record (None when the rule has no data)."""
    if record is None:
        return None
    return TrackRecordReply(
        heading=record_heading(record),
        table=outcome_table(record),
        line=outcome_line(record),
        note=why_no_line(record),
        chart_png=_track_chart(record),
    )


def _track_chart(record: TrackRecord) -> bytes | None:
    """The fan chart, when at least one firing's window has passed (None, logged, on error)."""
    if not any(outcome.moves for outcome in record.horizons):
        return None
    from bot.delivery.outcome_chart import render_outcome_chart  # lazy: matplotlib is slow

    try:
        return render_outcome_chart(record)
    except Exception as error:  # a chart must never hold the answer back
        log.warning("no track record chart for %s: %s", record.rule_id, error)
        return None


def _backtest(rule: Rule, market: MarketData) -> BacktestSummary | None:
    try:
        events = backtest_rule(rule, market, start=BACKTEST_START)
    except ValueError:  # DataError and friends: no history to backtest on
        return None
    fired = [e.date for e in events if e.kind == "fired"]
    return BacktestSummary(
        since=BACKTEST_START,
        fired=len(fired),
        reversed=sum(1 for e in events if e.kind == "reversed"),
        first_fired=min(fired, default=None),
        last_fired=max(fired, default=None),
        recent=tuple(_event_row(e) for e in events[-RECENT_EVENTS:][::-1]),
    )


def _parameters(rule: Rule) -> tuple[tuple[str, str], ...]:
    """The rule's own parameters first, then the shared options; no id, name or description."""
    skip = {"id", "name", "description", "type"}
    shared = {item.name for item in fields(Rule)}
    items = [(k, v) for k, v in rule.to_mapping().items() if k not in skip and v not in (None, [])]
    ordered = sorted(items, key=lambda item: item[0] in shared)
    return tuple((key, _plain(value)) for key, value in ordered)


def _plain(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return "" if value is None else str(value)


def _event_row(event: Event) -> EventRow:
    return EventRow(event.kind, event.date, event.measure, event.title)


def _chart(rule: Rule, row: SignalRow, recent: list[Event]) -> ChartSpec | None:
    """The latest event's chart when it is recent, else the rule's legs over the last year."""
    if recent and recent[0].chart is not None and row.session is not None:
        if recent[0].date >= row.session - _CHART_SPAN:
            return recent[0].chart
    if row.session is None:
        return None
    kind, legs = _chart_legs(rule)
    return ChartSpec(kind, legs, row.session - _CHART_SPAN, row.session, basis=_basis(rule))


def _chart_legs(rule: Rule) -> tuple[ChartKind, tuple[str, ...]]:
    legs = rule.legs()
    if rule.type in ("relative_crossover", "spread_threshold"):
        return "relative", legs
    if rule.type == "new_high":
        return "new_high", legs[:1]
    if rule.type == "curve":
        return "level", (f"{legs[0]} - {legs[1]}",)
    if isinstance(rule, ExtremeSince):
        return "extreme", (rule.series,)
    return "level", legs[:1]


def _basis(rule: Rule) -> ChartBasis:
    basis = getattr(rule, "basis", "total")
    if basis in ("close", "high", "adj_close"):
        return basis  # type: ignore[no-any-return]
    return "close" if basis == "price" else "adj_close"

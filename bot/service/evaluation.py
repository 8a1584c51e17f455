"""Compose the signal engine with storage: load market data, check every rule, keep state.

`check_rules` is what the scheduler and `rotation-bot check` call. Each rule steps through
every final bar after its last evaluated session (catching up missed sessions in order),
its state is saved, and its events go to the deduplicated event log; only events never
recorded before come back as `new_events`. A rule seen for the first time is primed
silently on its history, so adding a rule does not replay decades of alerts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from bot.crash_points import crash_point
from bot.market import (  # the service's callers import these from here too
    expected_last_session,
    load_market,
    nyse_sessions,
    rule_leaves,
)
from bot.service.bar_steps import quiet_steps
from bot.service.check_reuse import remember, reusable, reusable_from_kept
from bot.service.rewind import (
    Rewound,
    forget_consumed,
    mark_rewound_late,
    rewinds_pending,
    rewound_states,
)
from bot.service.tail_step import Tails
from signals.models import Evaluation, Event, MarketData, RuleState
from signals.quality import ACCEPTED, CONFIRMED, SUSPECT
from signals.rules import Rule
from storage.db import Store
from storage.owed_alerts import mark_owed
from storage.prices import flagged_bars
from storage.rule_state import (
    has_event,
    last_event_by_rule,
    load_fingerprints,
    load_states,
    record_events,
    save_states,
)
from storage.series import flagged_points
from storage.versioning import data_version

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuleCheck:
    """One rule's evaluation and the last event on record for it."""

    rule: Rule
    evaluation: Evaluation
    last_event: Event | None = None


@dataclass(frozen=True)
class CheckReport:
    """Every rule's evaluation, and the events recorded for the first time by this check."""

    checks: tuple[RuleCheck, ...]
    new_events: tuple[Event, ...] = ()
    expected_session: date | None = None
    primed: tuple[str, ...] = field(default=())  # rules seen for the first time
    # The market the check read (whole histories), for what else needs it on the same data
    # (the digest's weekly scorecard).
    market: MarketData | None = field(default=None, compare=False, repr=False)
    reused: tuple[str, ...] = field(default=())  # rules whose last evaluation still held


def check_rules(
    db: Store,
    rules: Sequence[Rule],
    *,
    as_of: date | None = None,
    now: datetime | None = None,
    persist: bool = True,
    market: MarketData | None = None,
    owe_from: date | None = None,
    whole_history: bool = False,
) -> CheckReport:
    """Evaluate every rule up to `as_of` (default: the last bar stored); save and record.

    With `persist=False` nothing is written: each rule starts from the state a backtest gives
    just before its last bar on or before `as_of` (a what-if for that date). New events dated
    `owe_from` or later are recorded as owed an alert (`storage.owed_alerts`), in the same
    transaction as the events and states; None: recorded without alerting. A rule stepped
    before is evaluated on the tail of history its new bars read (`bot.service.tail_step`);
    `whole_history` evaluates every rule on all of it (the reference the tail is tested on).
    """
    expected = expected_last_session(now or datetime.now(UTC))
    if as_of is not None and as_of < expected:
        expected = as_of  # checking a past date: only staleness relative to that date counts
    prints = {rule.id: rule.fingerprint() for rule in rules}
    states = _current_states(db, rules, prints) if persist else {}
    rewound: dict[str, Rewound] = {}
    if persist and rewinds_pending(db):
        # A bar resolved after a rule read past it: that rule steps again from it
        # (bot/service/rewind); its new starting state changes its reuse key.
        market = market or load_market(db, rules)
        states, rewound = rewound_states(db, rules, market, states)
    # Only a saving check of everything stored may reuse what the last one computed.
    reuse = persist and as_of is None
    reused = {}
    if reuse and market is None:  # decided without loading any price, where the digests allow
        reused = reusable_from_kept(db, rules, _today_sessions(), prints, states, expected)
    pending = [rule for rule in rules if rule.id not in reused]
    market = market or (load_market(db, pending) if pending else None)
    if reuse and market is not None:
        reused |= reusable(db, pending, market, prints, states, expected)
    todo = [rule for rule in pending if rule.id not in reused]
    computed, primed = _computed(todo, market, states, as_of, expected, whole_history)
    checks = [reused.get(rule.id) or computed[rule.id] for rule in rules]
    events = [event for rule in todo for event in computed[rule.id].events]
    new_states = {
        rule_id: check.state
        for rule_id, check in computed.items()
        if check.state.last_session is not None
    }
    checks = with_held_bars(db, rules, checks)
    events = mark_rewound_late(mark_confirmed_late(db, rules, events), rewound)
    if persist and events and market is not None:
        from bot.outcomes import with_track_records  # see _computed

        events = with_track_records(events, rules, market, version=data_version(db))
    crash_point("evaluated")
    new_events = _store(db, new_states, prints, events, owe_from) if persist else []
    if reuse and market is not None:
        remember(db, pending, market, prints, computed, expected, states)
    last = last_event_by_rule(db)
    return CheckReport(
        checks=tuple(RuleCheck(r, e, last.get(r.id)) for r, e in zip(rules, checks, strict=True)),
        new_events=tuple(new_events),
        expected_session=expected,
        primed=tuple(primed),
        market=market,
        reused=tuple(rule.id for rule in rules if rule.id in reused),
    )


def _computed(
    rules: Sequence[Rule],
    market: MarketData | None,
    states: dict[str, RuleState],
    as_of: date | None,
    expected: date,
    whole_history: bool,
) -> tuple[dict[str, Evaluation], list[str]]:
    """Each rule's evaluation from its frame and starting state; the rules primed."""
    if not rules or market is None:
        return {}, []
    # Imported here, not at the top: a check whose every rule is reused builds no frame and
    # spares their imports (part of a no-new-bar check's cost, see docs/performance.md).
    from bot.what_if import evaluate_all

    # Rules sharing a frame are evaluated in a row (signals.batch); a rule stepped before
    # reads only the tail of history its new bars need (bot.service.tail_step).
    # A stepped rule's quiet new bars need no frame at all (`bot.service.bar_steps`).
    quiet = {} if whole_history else quiet_steps(rules, market, states, as_of, expected)
    tails = Tails(market, whole=whole_history)
    found = evaluate_all(rules, market, states, as_of, expected, skip=quiet, view=tails.of)
    computed = {rules[at].id: evaluation for at, (evaluation, _) in found.items()} | quiet
    primed = [rules[at].id for at, (_, was_primed) in sorted(found.items()) if was_primed]
    return computed, primed


def with_held_bars(db: Store, rules: Sequence[Rule], checks: list[Evaluation]) -> list[Evaluation]:
    """A rule behind its data says which of its bars the quality checks hold back, and why."""
    held: dict[str, list[str]] = {}
    for name, day in [(str(r["symbol"]), str(r["date"])) for r in flagged_bars(db, [SUSPECT])] + [
        (str(r["series_id"]), str(r["date"])) for r in flagged_points(db, [SUSPECT])
    ]:
        held.setdefault(name, []).append(day)
    if not held:
        return checks
    out = []
    for rule, check in zip(rules, checks, strict=True):
        leaves = set(rule_leaves([rule]))
        notes = [_held_note(name, days) for name, days in held.items() if name in leaves]
        if notes and check.status != "OK":
            check = replace(check, reason="; ".join([check.reason, *notes]).strip("; "))
        out.append(check)
    return out


def _held_note(name: str, days: list[str]) -> str:
    """`^RUT 2026-11-20 held back as suspect`, or since when for a level that lasts."""
    if len(days) == 1:
        return f"{name} {days[0]} held back as suspect"
    return f"{name} held back as suspect since {min(days)} ({len(days)} bars)"


# Statuses of bars whose events come late and say why.
HELD = (CONFIRMED, ACCEPTED)


def mark_confirmed_late(db: Store, rules: Sequence[Rule], events: list[Event]) -> list[Event]:
    """Say so in events on a bar the quality checks held back: confirmed by the next session,
    by linked instruments sessions later, or accepted by a person (the event comes late)."""
    if not events:
        return events
    held = {(str(r["symbol"]), str(r["date"])): r for r in flagged_bars(db, HELD)}
    held |= {(str(r["series_id"]), str(r["date"])): r for r in flagged_points(db, HELD)}
    by_id = {rule.id: rule for rule in rules}
    return [_late(event, by_id.get(event.rule_id), held) for event in events]


def _late(event: Event, rule: Rule | None, held: dict[tuple[str, str], dict]) -> Event:
    day = event.date.isoformat()
    found = {leaf: held[(leaf, day)] for leaf in rule_leaves([rule]) if (leaf, day) in held}
    if not rule or not found:
        return event
    names = ", ".join(found)
    rows = list(found.values())
    if any(row["status"] == ACCEPTED for row in rows):
        note = f"Alerted late: the move of {names} on {day} was held as suspect until a person "
        reading = "".join(str(row["quality_note"]).partition("; second source ")[2] for row in rows)
        said = f" (second source {reading})" if reading else ""
        note, check = note + f"accepted it{said}.", "accepted by a person"
    elif level := _accepted_level(rows):
        note = (
            f"Alerted late: the move of {names} on {day} was held as suspect until a person "
            f"accepted the level it kept, on {level}."
        )
        check = "accepted by a person"
    elif any(str(row["quality_note"]).startswith("confirmed by the second") for row in rows):
        why = "; ".join(str(row["quality_note"]) for row in rows)
        note = f"The move of {names} on {day} was held as suspect, then {why}."
        check = "confirmed by a second source"
    elif any(" shared by " in str(row["quality_note"]) for row in rows):
        why = "; ".join(str(row["quality_note"]) for row in rows)
        note = f"Confirmed late: the move of {names} on {day} was held as suspect ({why})."
        check = "confirmed late by linked instruments"
    else:
        note = (
            f"Confirmed one session late: the move of {names} on {day} was held as "
            "suspect until the next session confirmed its level."
        )
        check = "confirmed one session late"
    description = f"{event.description}\n{note}" if event.description else note
    return replace(event, description=description, fields=(*event.fields, ("Data check", check)))


def _accepted_level(rows: list[dict]) -> str:
    """The accepted bar's date a released bar names (bot/sources/decisions.py), or ""."""
    prefix = "held with the level a person accepted on "
    notes = [str(row["quality_note"]) for row in rows]
    return next((note[len(prefix) :] for note in notes if note.startswith(prefix)), "")


def _today_sessions() -> pd.DatetimeIndex:
    """The sessions `load_market` gives a market today (every reuse key includes them)."""
    return nyse_sessions(date.today())


def _current_states(
    db: Store, rules: Sequence[Rule], prints: dict[str, str]
) -> dict[str, RuleState]:
    """Stored states of rules whose definition is unchanged; an edited rule re-primes."""
    states = load_states(db, [rule.id for rule in rules])
    stored = load_fingerprints(db)
    return {
        rule.id: states[rule.id]
        for rule in rules
        if rule.id in states and stored.get(rule.id, prints[rule.id]) == prints[rule.id]
    }


def _store(
    db: Store,
    states: dict[str, RuleState],
    prints: dict[str, str],
    events: list[Event],
    owe_from: date | None,
) -> list[Event]:
    # One transaction: an event is never on record without its alert owed (a crash before
    # the commit leaves the rule's state behind, so the next check finds the event again).
    with db.atomic():
        save_states(db, states, prints)
        forget_consumed(db)  # rewinds the saved states stepped past go with them, or neither
        new = [event for event in record_events(db, events) if _announced(db, event)]
        if owe_from is not None:
            mark_owed(db, [event.dedupe_key for event in new if event.date >= owe_from])
    crash_point("recorded")
    for event in new:
        log.info("event %s: %s", event.dedupe_key, event.title)
    return new


def _announced(db: Store, event: Event) -> bool:
    """A reversal is worth alerting only when its firing is on record (not primed away)."""
    return event.kind == "fired" or has_event(db, f"{event.rule_id}:{event.episode}:fired")

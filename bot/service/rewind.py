"""Step a rule again from a bar resolved after it had read past it (issue 19, item 5).

A held bar is left out of every rule, so a rule steps past it on the next usable sessions.
When the bar is resolved (accepted, confirmed by agreement or the second source, a rejected
value corrected by the source), `storage.rewinds` holds a row for it, written with the status.
The next check (`check_rules`) asks `rewound_states` for the rules reading that symbol whose
stored state is past the bar and older than the row: each starts again from the state a
backtest has just before the bar (settled on the history before it, no alerts), and steps the
bar and every session after it. Events already on record are not repeated (the event log's
dedup); the others come late, and `mark_rewound_late` says which bar, resolved how, and when.
Saving the state marks the row done for that rule (its state is newer than the row). A bar
more than `REACH` behind the rule's last session is not stepped again. The check that saves
the states calls `forget_consumed` in the same transaction: the rows no stored state can be
rewound by any more are deleted, so the table holds only what is still owed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from bot.market import rule_leaves
from signals.models import Event, MarketData, RuleState
from signals.rules import Rule
from storage.db import Store
from storage.rewinds import (
    REACH_DAYS,
    Rewind,
    any_pending,
    oldest_state_stamp,
    pending_rewinds,
    prune_consumed,
    state_stamps,
)

log = logging.getLogger(__name__)

# How far behind a rule's last session a resolved bar still steps it again. Older events
# would be recorded but never alerted (past any catch-up window), and a re-base refetch that
# rewrites a long-discarded bar would step every rule on its symbol over years of history.
REACH = timedelta(days=REACH_DAYS)


@dataclass(frozen=True)
class Rewound:
    """A rule stepped again from `since`, which it had read past up to `passed`."""

    since: date
    passed: date
    why: Rewind


def rewinds_pending(db: Store) -> bool:
    """True when a resolved bar may ask a stored rule state to step again: a row no state
    can be rewound by (a provisional bar rewritten by this afternoon's refreshes, which no
    rule has read) loads no market."""
    return any_pending(db)


def forget_consumed(db: Store) -> None:
    """Delete the rows every stored state is past (call it inside the transaction that saves
    the states: a crash then keeps the rows and the old states together)."""
    pruned = prune_consumed(db)
    if pruned:
        log.debug("%d rewind rows consumed", pruned)


def rewound_states(
    db: Store, rules: Sequence[Rule], market: MarketData, states: Mapping[str, RuleState]
) -> tuple[dict[str, RuleState], dict[str, Rewound]]:
    """The states to start from (rewound where a resolved bar asks), and the rules rewound."""
    marks = pending_rewinds(db, oldest_state_stamp(db))
    if not marks:  # the usual check: one indexed look-up
        return dict(states), {}
    stamps = state_stamps(db)
    stepped = {rule.id: stamps[rule.id] for rule in rules if rule.id in stamps}
    out, rewound = dict(states), {}
    for rule in rules:
        state = states.get(rule.id)
        mark = _first_due(rule, state, stepped.get(rule.id, ""), marks)
        if state is None or state.last_session is None or mark is None:
            continue
        out[rule.id] = _state_before(rule, market, mark.day)
        rewound[rule.id] = Rewound(mark.day, state.last_session, mark)
        log.info("%s stepped again from %s: %s %s", rule.id, mark.day, mark.name, mark.how)
    return out, rewound


def _state_before(rule: Rule, market: MarketData, day: date) -> RuleState:
    """The state a backtest has just before `day`; with no usable bar before it, a fresh one
    dated the day before (a state without a session would be primed again, silently)."""
    from signals.evaluate import prime_state  # the engine only when a rule steps again

    state = prime_state(rule, market, before=day)
    if state.last_session is None:
        return replace(state, last_session=day - timedelta(days=1))
    return state


def _first_due(
    rule: Rule, state: RuleState | None, saved: str, marks: list[Rewind]
) -> Rewind | None:
    """The earliest resolved bar of the rule's legs that its state read past before it was
    resolved (a state saved at the same second counts as before: stepping again is safe)."""
    if state is None or state.last_session is None:
        return None
    leaves, reach = set(rule_leaves([rule])), state.last_session - REACH
    due = [
        mark
        for mark in marks
        if mark.name in leaves
        and reach <= mark.day <= state.last_session
        and saved <= mark.created_at
    ]
    return min(due, key=lambda mark: mark.day, default=None)


def mark_rewound_late(events: list[Event], rewound: Mapping[str, Rewound]) -> list[Event]:
    """Say so in each event of a rewound rule on a session it had already read past (unless
    the quality checks' note already says why it is late)."""
    return [_late(event, rewound.get(event.rule_id)) for event in events]


def _late(event: Event, rewound: Rewound | None) -> Event:
    if rewound is None or event.date > rewound.passed:
        return event
    if any(name == "Data check" for name, _ in event.fields):
        return event
    why = rewound.why
    note = (
        f"Alerted late: the bar of {why.name} on {why.day} was {why.how} on "
        f"{why.created_at[:10]}, after the rule had read past it; it was evaluated again "
        f"from {why.day}."
    )
    description = f"{event.description}\n{note}" if event.description else note
    return replace(event, description=description, fields=(*event.fields, ("Data check", why.how)))

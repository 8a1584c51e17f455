"""Rule states and the event log: `rule_state` (one row per rule) and `events` (deduped alerts).

`events.dedupe_key` (rule_id:episode:kind) is UNIQUE, so recording the same event twice, even
across restarts, never creates a second row; the delivery outbox builds on that key.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import date
from typing import Any

from sqlite_utils.migrations import Migrations

from signals.models import ChartSpec, Event, RuleState, SideState
from storage.db import Store, register
from storage.stamps import utc_now_iso

migrations = register(Migrations("rotation.rule_state"))


@migrations()
def create_rule_state(db: Store) -> None:
    """Per-rule state machine state and the log of every event fired or reversed."""
    db.execute(
        """
        CREATE TABLE rule_state (
            rule_id TEXT PRIMARY KEY,
            phase TEXT NOT NULL,
            state TEXT NOT NULL,
            last_session TEXT,
            updated_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            dedupe_key TEXT NOT NULL UNIQUE,
            rule_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            date TEXT NOT NULL,
            episode TEXT NOT NULL,
            measure REAL,
            payload TEXT NOT NULL,
            created_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX events_rule_date ON events (rule_id, date)")


@migrations()
def add_rule_fingerprint(db: Store) -> None:
    """The definition a state was computed for: a changed rule starts afresh."""
    db.execute("ALTER TABLE rule_state ADD COLUMN fingerprint TEXT")


@functools.lru_cache(maxsize=4096)
def state_to_json(state: RuleState) -> str:
    """A RuleState as JSON text (the bytes `dataclasses.asdict` gave, field by field).

    Written out by hand: a check of 10,000 rules stores two per rule (its state row and its
    stored evaluation), and `asdict` deep-copies every field. A new field of `RuleState` or
    `SideState` must be added here (`tests/storage/test_state_json.py` compares with asdict).
    Kept per distinct state (frozen, so hashable): after one new session most rules share a
    few idle states.
    """
    last = state.last_session
    data = {
        "cooldown": state.cooldown,
        "down": _side(state.down),
        "fired": state.fired,
        "last_session": last.isoformat() if last else None,
        "up": _side(state.up),
    }
    return json.dumps(data, sort_keys=True)


def _side(side: SideState) -> dict[str, object]:
    return {"episode": side.episode, "phase": side.phase, "streak": side.streak}


@functools.lru_cache(maxsize=16384)
def state_from_json(text: str) -> RuleState:
    """The RuleState `state_to_json` wrote.

    Memoised: a check of 10,000 rules reads each stored state twice (its row and its stored
    evaluation) and most rules share a few thousand distinct states; states are frozen.
    """
    data = json.loads(text)
    last = data.get("last_session")
    return RuleState(
        up=SideState(**data["up"]),
        down=SideState(**data["down"]),
        cooldown=int(data.get("cooldown", 0)),
        fired=int(data.get("fired", 0)),
        last_session=date.fromisoformat(last) if last else None,
    )


def load_states(db: Store, rule_ids: Iterable[str] | None = None) -> dict[str, RuleState]:
    """Stored states by rule id (all rules, or those named)."""
    rows = db.execute("SELECT rule_id, state FROM rule_state").fetchall()
    wanted = set(rule_ids) if rule_ids is not None else None
    return {
        rule_id: state_from_json(text)
        for rule_id, text in rows
        if wanted is None or rule_id in wanted
    }


def save_states(
    db: Store, states: Mapping[str, RuleState], fingerprints: Mapping[str, str] | None = None
) -> None:
    """Insert or replace the state (and rule fingerprint) of every rule given, atomically."""
    stamp = utc_now_iso()
    prints = fingerprints or {}
    rows = [
        _state_row(rule_id, state, stamp, prints.get(rule_id)) for rule_id, state in states.items()
    ]
    with db.atomic():
        db.executemany(
            "INSERT INTO rule_state (rule_id, phase, state, last_session, updated_at, fingerprint)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(rule_id) DO UPDATE SET"
            " phase = excluded.phase, state = excluded.state,"
            " last_session = excluded.last_session, updated_at = excluded.updated_at,"
            " fingerprint = coalesce(excluded.fingerprint, rule_state.fingerprint)",
            rows,
        )


def _state_row(
    rule_id: str, state: RuleState, stamp: str, fingerprint: str | None
) -> tuple[object, ...]:
    return (
        rule_id,
        state.phase,
        state_to_json(state),
        _iso(state.last_session),
        stamp,
        fingerprint,
    )


def load_fingerprints(db: Store) -> dict[str, str]:
    """The rule fingerprint each stored state was computed for (rules that have one)."""
    sql = "SELECT rule_id, fingerprint FROM rule_state WHERE fingerprint IS NOT NULL"
    return dict(db.execute(sql).fetchall())


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def event_to_payload(event: Event) -> dict[str, Any]:
    """An Event as a JSON-ready dict (dates as ISO text, tuples as lists)."""
    data = asdict(event)
    data["date"] = event.date.isoformat()
    data["fields"] = [list(pair) for pair in event.fields]
    data["context"] = dict(event.context)
    if event.chart is not None:
        chart = asdict(event.chart)
        for name in ("start", "end", "reference_date", "since_line"):
            chart[name] = _iso(chart[name])
        data["chart"] = chart
    data["dedupe_key"] = event.dedupe_key
    return data


def event_from_payload(payload: str | Mapping[str, Any]) -> Event:
    """The Event `event_to_payload` wrote (accepts the dict or its JSON text)."""
    data = dict(json.loads(payload) if isinstance(payload, str) else payload)
    data.pop("dedupe_key", None)
    data["date"] = date.fromisoformat(data["date"])
    data["symbols"] = tuple(data.get("symbols", ()))
    data["fields"] = tuple(tuple(pair) for pair in data.get("fields", ()))
    chart = data.get("chart")
    if chart is not None:
        chart = dict(chart)
        for name in ("start", "end", "reference_date", "since_line"):
            chart[name] = date.fromisoformat(chart[name]) if chart.get(name) else None
        chart["legs"] = tuple(chart["legs"])
        data["chart"] = ChartSpec(**chart)
    return Event(**data)


_INSERT = """
INSERT INTO events
    (dedupe_key, rule_id, kind, date, episode, measure, payload, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
"""


def record_events(db: Store, events: Iterable[Event]) -> list[Event]:
    """Store events in the log; return only those not recorded before (by dedupe key)."""
    stamp = utc_now_iso()
    new: list[Event] = []
    with db.atomic():
        for event in events:
            payload = json.dumps(event_to_payload(event), sort_keys=True, allow_nan=False)
            row = (event.dedupe_key, event.rule_id, event.kind, event.date.isoformat())
            row += (event.episode, event.measure, payload, stamp)
            if db.execute(_INSERT, row).rowcount == 1:
                new.append(event)
    return new


def last_events(db: Store, rule_id: str | None = None, limit: int = 20) -> list[Event]:
    """The most recent events (newest first), for one rule or all."""
    where, params = ("WHERE rule_id = ?", [rule_id]) if rule_id else ("", [])
    sql = f"SELECT payload FROM events {where} ORDER BY date DESC, id DESC LIMIT ?"  # noqa: S608
    return [event_from_payload(row[0]) for row in db.execute(sql, [*params, limit])]


def last_event_by_rule(db: Store) -> dict[str, Event]:
    """The most recent event of every rule that has one."""
    sql = """
        SELECT payload FROM events e
        WHERE id = (SELECT id FROM events f WHERE f.rule_id = e.rule_id
                    ORDER BY date DESC, id DESC LIMIT 1)
    """
    events = [event_from_payload(row[0]) for row in db.execute(sql)]
    return {event.rule_id: event for event in events}


def rules_with_events_between(db: Store, first: date, last: date) -> set[str]:
    """The ids of the rules with an event logged from `first` to `last` (inclusive)."""
    sql = "SELECT DISTINCT rule_id FROM events WHERE date >= ? AND date <= ?"
    return {row[0] for row in db.execute(sql, [first.isoformat(), last.isoformat()])}


def has_event(db: Store, dedupe_key: str) -> bool:
    """True when the event log holds an event with this dedupe key."""
    sql = "SELECT 1 FROM events WHERE dedupe_key = ?"
    return db.execute(sql, [dedupe_key]).fetchone() is not None


def forget_state(db: Store, rule_id: str) -> None:
    """Drop a rule's stored state, so that its next evaluation primes it afresh (silently)."""
    db.execute("DELETE FROM rule_state WHERE rule_id = ?", (rule_id,))

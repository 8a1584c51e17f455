"""Alerts owed: recorded events whose outbox rows are still to be queued (a transactional outbox).

An evaluation marks the events it should alert about `owed` in the same transaction that
records them and saves the rule states, so no crash can leave an event on record without
its alert to come. Queueing an owed event (its chart drawn before, its outbox rows written
in one transaction with `settle`) clears the mark; `settle` is a compare-and-set, so two
queuers racing for one event (replicas, a `check --deliver` beside the service) queue it
once. Events recorded without alerting (a primed rule, a catch-up older than the alert
window, a reversal whose firing was primed away) are never owed.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlite_utils.migrations import Migrations

from signals.models import Event
from storage.db import Store, register
from storage.rule_state import event_from_payload

migrations = register(Migrations("rotation.owed_alerts"))


@migrations()
def add_event_owed(db: Store) -> None:
    """Events start settled (1 = owed); existing rows were queued (or not) the old way."""
    db.execute("ALTER TABLE events ADD COLUMN owed INTEGER NOT NULL DEFAULT 0")
    db.execute("CREATE INDEX events_owed ON events (id) WHERE owed = 1")


def mark_owed(db: Store, keys: Iterable[str]) -> int:
    """Mark recorded events as owed an alert; call inside the transaction that records them."""
    rows = [(key,) for key in keys]
    if not rows:
        return 0
    return db.executemany("UPDATE events SET owed = 1 WHERE dedupe_key = ?", rows)


def owed_events(db: Store) -> list[Event]:
    """Every event still owed its alert, in the order it was recorded."""
    sql = "SELECT payload FROM events WHERE owed = 1 ORDER BY id"
    return [event_from_payload(row[0]) for row in db.execute(sql)]


def count_owed(db: Store) -> int:
    """How many recorded events still wait for their alert to be queued."""
    return int(db.execute("SELECT count(*) FROM events WHERE owed = 1").fetchone()[0])


def settle(db: Store, key: str) -> bool:
    """Clear an event's owed mark; False when it was not owed (another queuer took it).

    On PostgreSQL the UPDATE waits for a concurrent queuer's transaction and then finds the
    mark gone, so call it first in the queueing transaction and write nothing when False.
    """
    sql = "UPDATE events SET owed = 0 WHERE dedupe_key = ? AND owed = 1"
    return db.execute(sql, [key]).rowcount == 1

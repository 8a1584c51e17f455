"""The outbox: every alert, one row per destination, written before anything is sent.

`outbox_alerts` keeps what is needed to render an alert (the event as JSON and the chart PNG)
so delivery never depends on other tables; `outbox` keeps one row per (dedupe_key,
destination) with its delivery state. Rows are delivered per destination in id order.

States: pending -> sending (claimed; `next_attempt_at` is then the claim's lease and `claim`
its owner's token: see storage/outbox_claims.py, the only place that claims and finishes rows)
-> delivered | pending (retry at `next_attempt_at`) | dead (after too many failures; kept).
A row found in `sending` after its lease means a sender died mid-send: the outcome is
unknown and the sender must look for the message before posting it again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlite_utils.migrations import Migrations

from signals.models import Event
from storage.db import Store, register
from storage.outbox_wake import announce_queued
from storage.rule_state import event_from_payload, event_to_payload
from storage.stamps import utc_now

migrations = register(Migrations("rotation.outbox"))

STATUSES = ("pending", "sending", "delivered", "dead")


@migrations()
def create_outbox(db: Store) -> None:
    """Alert payloads and per-destination delivery rows."""
    db.execute(
        """
        CREATE TABLE outbox_alerts (
            dedupe_key TEXT PRIMARY KEY,
            payload TEXT NOT NULL,
            chart BLOB,
            created_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            dedupe_key TEXT NOT NULL REFERENCES outbox_alerts(dedupe_key),
            destination TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sending', 'delivered', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            message_id TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            delivered_at TEXT,
            UNIQUE (dedupe_key, destination)
        )
        """
    )
    db.execute("CREATE INDEX outbox_open ON outbox (destination, status, id)")


@migrations()
def add_outbox_mentions(db: Store) -> None:
    """Subscriber ids a channel row may ping, fixed when the alert is queued (space-separated)."""
    db.execute("ALTER TABLE outbox ADD COLUMN mentions TEXT NOT NULL DEFAULT ''")


@dataclass(frozen=True)
class OutboxRow:
    """One delivery of one alert to one destination."""

    id: int
    dedupe_key: str
    destination: str
    status: str
    attempts: int
    next_attempt_at: str
    last_error: str | None
    message_id: str | None
    created_at: str
    updated_at: str
    delivered_at: str | None
    mentions: str = ""
    claim: str | None = None  # the claim token of its current (or last) sender

    @property
    def mention_ids(self) -> tuple[str, ...]:
        """The subscriber ids this row was queued to ping."""
        return tuple(self.mentions.split())


def stamp(moment: datetime) -> str:
    """A UTC timestamp in one fixed format, so that text comparison orders it."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def enqueue_alerts(
    db: Store,
    events: Iterable[Event],
    destinations: Sequence[str],
    *,
    charts: Mapping[str, bytes | None] | None = None,
    now: datetime | None = None,
) -> int:
    """Record each event once and one row per destination; return how many rows are new.

    Idempotent: an event already recorded (same dedupe key) never gets a second row for a
    destination, in this process or after a restart.
    """
    when, charts, rows = now or utc_now(), charts or {}, dict.fromkeys(destinations, ())
    with db.atomic():
        return sum(
            enqueue_alert(db, e.dedupe_key, e, rows, chart=charts.get(e.dedupe_key), now=when)
            for e in events
        )


def enqueue_alert(
    db: Store,
    key: str,
    event: Event,
    rows: Mapping[str, Sequence[str]],
    *,
    chart: bytes | None = None,
    now: datetime | None = None,
) -> int:
    """Record one alert under `key` and a row per destination with the ids it may mention.

    `key` may differ from `event.dedupe_key` (a re-notification round of that alert). As
    with `enqueue_alerts`, a (key, destination) pair is recorded once; return the new rows.
    """
    when = stamp(now or utc_now())
    with db.atomic():
        _insert_alert(db, event, chart, when, key=key)
        return sum(
            _insert_row(db, key, destination, when, mentions)
            for destination, mentions in rows.items()
        )


def _insert_alert(
    db: Store, event: Event, chart: bytes | None, when: str, *, key: str | None = None
) -> None:
    payload = json.dumps(event_to_payload(event), default=str, sort_keys=True)
    db.execute(
        "INSERT INTO outbox_alerts (dedupe_key, payload, chart, created_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [key or event.dedupe_key, payload, chart, when],
    )


def _insert_row(
    db: Store, key: str, destination: str, when: str, mentions: Sequence[str] = ()
) -> int:
    """Insert one delivery row unless (key, destination) has one; 1 if it was new."""
    announce_queued(db)
    cursor = db.execute(
        "INSERT INTO outbox (dedupe_key, destination, next_attempt_at, created_at,"
        " updated_at, mentions) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [key, destination, when, when, when, " ".join(mentions)],
    )
    return cursor.rowcount


def known_alert_keys(db: Store, keys: Iterable[str]) -> set[str]:
    """The keys among `keys` that already have an outbox entry."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return set()
    marks = ", ".join("?" for _ in wanted)
    sql = f"SELECT dedupe_key FROM outbox_alerts WHERE dedupe_key IN ({marks})"  # noqa: S608
    return {row[0] for row in db.execute(sql, wanted)}


def open_destinations(db: Store) -> set[str]:
    """Destinations with rows still to send (pending or sending)."""
    sql = "SELECT DISTINCT destination FROM outbox WHERE status IN ('pending', 'sending')"
    return {row[0] for row in db.execute(sql)}


_DUE = """
SELECT o.* FROM outbox o
JOIN (SELECT destination, min(id) AS head_id FROM outbox
      WHERE status IN ('pending', 'sending') GROUP BY destination) h
  ON h.destination = o.destination
JOIN outbox head ON head.id = h.head_id
WHERE o.status IN ('pending', 'sending') AND head.next_attempt_at <= ?
ORDER BY o.destination, o.id
"""


def due_rows(db: Store, now: datetime) -> list[OutboxRow]:
    """Open rows of every destination whose oldest open row is due, in delivery order.

    A destination's queue is strictly ordered: while its oldest open row waits for a retry,
    none of its later rows is due. (The heads come from one aggregate over the open rows,
    not a correlated subquery per row, which is quadratic in the backlog.)
    """
    return [OutboxRow(**dict(row)) for row in db.query(_DUE, [stamp(now)])]


_HEADS = """
SELECT o.id, o.destination, o.next_attempt_at FROM outbox o
JOIN (SELECT destination, min(id) AS head_id FROM outbox
      WHERE status IN ('pending', 'sending') GROUP BY destination) h ON o.id = h.head_id
"""
# One index probe per destination: min(id) over `outbox_open`, the partial index of open rows.
_HEAD_OF = "SELECT min(id) FROM outbox WHERE destination = ? AND status IN ('pending', 'sending')"
_PROBES_PER_QUERY = 200


def head_rows(
    db: Store, destinations: Iterable[str] | None = None
) -> dict[str, tuple[int, datetime]]:
    """Each destination with open rows (of `destinations`, or all): its head's id and due time.

    With `destinations` each head costs one index probe whatever the backlog; without, one
    aggregate over every open row (for listings, not the sender's loop).
    """
    if destinations is None:
        return _heads(db.execute(_HEADS).fetchall())
    names, heads = sorted(set(destinations)), {}
    for start in range(0, len(names), _PROBES_PER_QUERY):
        chunk = names[start : start + _PROBES_PER_QUERY]
        probes = " UNION ALL ".join([_HEAD_OF] * len(chunk))
        sql = f"SELECT id, destination, next_attempt_at FROM outbox WHERE id IN ({probes})"  # noqa: S608
        heads.update(_heads(db.execute(sql, chunk).fetchall()))
    return heads


def _heads(rows: Iterable[Sequence[Any]]) -> dict[str, tuple[int, datetime]]:
    return {
        destination: (int(row_id), datetime.fromisoformat(due)) for row_id, destination, due in rows
    }


def next_due_at(db: Store, destinations: Iterable[str]) -> datetime | None:
    """When the earliest open head row among `destinations` becomes due, if any."""
    return min((due for _, due in head_rows(db, destinations).values()), default=None)


def get_row(db: Store, row_id: int) -> OutboxRow:
    """One outbox row by id."""
    row = next(db.query("SELECT * FROM outbox WHERE id = ?", [row_id]))
    return OutboxRow(**dict(row))


def list_outbox(db: Store, status: str | None = None) -> list[dict[str, Any]]:
    """Every outbox row (optionally of one status) with its alert title, oldest first."""
    where, params = ("WHERE o.status = ?", [status]) if status else ("", [])
    sql = f"""
        SELECT o.id, o.dedupe_key, o.destination, o.status, o.attempts, o.next_attempt_at,
               o.last_error, o.message_id, o.created_at, o.updated_at, o.delivered_at,
               a.payload
        FROM outbox o JOIN outbox_alerts a USING (dedupe_key) {where}
        ORDER BY o.id
    """  # noqa: S608
    return [_with_title(row) for row in db.query(sql, params)]


def _with_title(row: dict[str, Any]) -> dict[str, Any]:
    """The row with its alert's title in place of the payload (read here, not in SQL)."""
    payload = row.pop("payload")
    row["title"] = json.loads(payload).get("title")
    return row


def load_alert(db: Store, dedupe_key: str) -> tuple[Event, bytes | None]:
    """The stored event and chart PNG of one alert."""
    row = db.execute(
        "SELECT payload, chart FROM outbox_alerts WHERE dedupe_key = ?", [dedupe_key]
    ).fetchone()
    if row is None:
        raise KeyError(dedupe_key)
    return event_from_payload(row[0]), row[1]

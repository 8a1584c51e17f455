"""Destination health for the outbox: outage pauses, giving up by age, and re-queueing.

An outage belongs to a destination, not to a row: while a destination fails with retryable
errors, `destination_pauses` holds its consecutive failures and when the next single probe
may go out, so the rows behind the probe wait without spending attempts. A failing row gives
up by its age (since it was queued, or re-queued by `requeue_rows`), never by attempts spent
during an outage.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils.migrations import Migrations

from storage.db import Store, register
from storage.outbox import STATUSES, head_rows, stamp
from storage.outbox_wake import announce_queued

migrations = register(Migrations("rotation.outbox_health"))


@migrations()
def create_destination_pauses(db: Store) -> None:
    """Failing destinations, and the rows an operator put back in the queue (their age restarts)."""
    db.execute(
        """
        CREATE TABLE destination_pauses (
            destination TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            failing_since TEXT NOT NULL,
            probe_at TEXT NOT NULL,
            last_error TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE outbox_requeued (
            row_id INTEGER PRIMARY KEY REFERENCES outbox(id),
            requeued_at TEXT NOT NULL
        )
        """
    )


@dataclass(frozen=True)
class Pause:
    """A failing destination: `failures` in a row since `failing_since`, next probe at."""

    destination: str
    failures: int
    failing_since: datetime
    probe_at: datetime
    last_error: str


@dataclass(frozen=True)
class ExpiredRow:
    """A row that gave up by age."""

    id: int
    dedupe_key: str
    destination: str
    last_error: str | None


def destination_pauses(db: Store) -> dict[str, Pause]:
    """Every failing destination by name."""
    rows = db.execute(
        "SELECT destination, failures, failing_since, probe_at, last_error FROM destination_pauses"
    ).fetchall()
    return {
        name: Pause(name, failures, datetime.fromisoformat(since), datetime.fromisoformat(at), err)
        for name, failures, since, at, err in rows
    }


def record_failure(
    db: Store, destination: str, error: str, *, probe_at: datetime, now: datetime
) -> Pause:
    """Count one more failed probe of `destination`; the next one goes out at `probe_at`."""
    with db.atomic():
        db.execute(
            "INSERT INTO destination_pauses (destination, failures, failing_since, probe_at,"
            " last_error) VALUES (?, 1, ?, ?, ?) ON CONFLICT (destination) DO UPDATE SET"
            " failures = destination_pauses.failures + 1, probe_at = excluded.probe_at,"
            " last_error = excluded.last_error",
            [destination, stamp(now), stamp(probe_at), error],
        )
    return destination_pauses(db)[destination]


def clear_pause(db: Store, destination: str) -> Pause | None:
    """The destination answered: forget its outage; return the pause it was in, if any."""
    pause = destination_pauses(db).get(destination)
    if pause is not None:
        with db.atomic():
            db.execute("DELETE FROM destination_pauses WHERE destination = ?", [destination])
    return pause


_STALE = """
SELECT o.id, o.dedupe_key, o.destination, o.last_error FROM outbox o
LEFT JOIN outbox_requeued r ON r.row_id = o.id
WHERE o.status = 'pending' AND o.destination = ? AND coalesce(r.requeued_at, o.created_at) < ?
  AND (o.last_error IS NOT NULL
       OR o.destination IN (SELECT destination FROM destination_pauses))
ORDER BY o.id
"""


def expire_rows(
    db: Store, destinations: Iterable[str], *, older_than: datetime, now: datetime, why: str
) -> list[ExpiredRow]:
    """Mark dead the pending rows of `destinations` queued before `older_than` that are failing.

    Failing: the row's own last attempt failed, or its destination is paused by an outage.
    A row that merely waited (the service was down) is still sent, as catch-up alerts are.
    """
    expired: list[ExpiredRow] = []
    with db.atomic():
        for destination in destinations:
            for row in db.execute(_STALE, [destination, stamp(older_than)]).fetchall():
                reason = f"{why} (last error: {row[3]})" if row[3] else why
                # Still pending: another replica's sender may have claimed it since the read.
                cursor = db.execute(
                    "UPDATE outbox SET status = 'dead', last_error = ?, updated_at = ?"
                    " WHERE id = ? AND status = 'pending'",
                    [reason, stamp(now), row[0]],
                )
                if cursor.rowcount == 1:
                    expired.append(ExpiredRow(*row))
    return expired


def dead_row_ids(db: Store) -> list[int]:
    """Ids of every dead row, oldest first."""
    return [row[0] for row in db.execute("SELECT id FROM outbox WHERE status = 'dead' ORDER BY id")]


def row_status(db: Store, row_id: int) -> str | None:
    """The status of one row, None when there is no such row."""
    row = db.execute("SELECT status FROM outbox WHERE id = ?", [row_id]).fetchone()
    return row[0] if row else None


def requeue_rows(db: Store, row_ids: Iterable[int], now: datetime) -> int:
    """Put dead rows back in the queue, due now, with a fresh age; return how many moved.

    Attempts are kept, so a row an earlier attempt may have posted is looked up before it is
    posted again. Their destinations' pauses are lifted too: whoever re-queues expects a try now.
    """
    moved = 0
    with db.atomic():
        announce_queued(db)  # every replica's sender: an operator expects a try now
        for row_id in row_ids:
            cursor = db.execute(
                "UPDATE outbox SET status = 'pending', next_attempt_at = ?,"
                " updated_at = ? WHERE id = ? AND status = 'dead'",
                [stamp(now), stamp(now), row_id],
            )
            if cursor.rowcount != 1:
                continue
            moved += 1
            db.execute(
                "INSERT INTO outbox_requeued (row_id, requeued_at) VALUES (?, ?)"
                " ON CONFLICT (row_id) DO UPDATE SET requeued_at = excluded.requeued_at",
                [row_id, stamp(now)],
            )
            db.execute(
                "DELETE FROM destination_pauses WHERE destination ="
                " (SELECT destination FROM outbox WHERE id = ?)",
                [row_id],
            )
    return moved


def count_open(db: Store, destination: str | None = None) -> int:
    """Rows still to deliver (pending or sending), of one destination or all."""
    sql = "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')"
    if destination is None:
        return int(db.execute(sql).fetchone()[0])
    return int(db.execute(sql + " AND destination = ?", [destination]).fetchone()[0])


def count_by_status(db: Store) -> dict[str, int] | None:
    """Outbox rows by status, or None when delivery has not created its table yet."""
    if not db.has_table("outbox"):
        return None
    rows = db.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({str(status): int(count) for status, count in rows})
    return counts


def head_due_times(db: Store, destinations: Iterable[str]) -> dict[str, datetime]:
    """When the oldest open row of each of `destinations` (that has one) becomes due."""
    return {name: due for name, (_, due) in head_rows(db, destinations).items()}

"""Signed chat requests seen in the last five minutes, shared by every replica (replay memory).

Discord HTTP interactions and Slack HTTP mode refuse a signed request replayed within the
window their signatures are valid for. Kept in memory that protection ends with the process
and stops at its door: a replay sent after a restart, or to another replica behind the load
balancer, ran again. Here one row per request key (`discord:<interaction id>`,
`slack:<signature>`) lives until `expires_at` (epoch seconds, the end of its request's window),
and `remember` is one atomic upsert, so two replicas taking the same request at once let one
of them run it.
"""

from __future__ import annotations

from sqlite_utils.migrations import Migrations

from storage.db import Store, register

migrations = register(Migrations("rotation.seen_requests"))


@migrations()
def create_seen_requests(db: Store) -> None:
    """Request keys seen, until their signature's window ends."""
    db.execute("CREATE TABLE seen_requests (key TEXT PRIMARY KEY, expires_at REAL NOT NULL)")
    db.execute("CREATE INDEX seen_requests_expiry ON seen_requests (expires_at)")


def remember(db: Store, key: str, expires_at: float, now: float) -> bool:
    """Record `key` as seen until `expires_at`; False when it was seen and has not expired."""
    # Two transactions, not one: neither holds its locks while waiting for the other's.
    with db.atomic():
        db.execute("DELETE FROM seen_requests WHERE expires_at < ?", [now])
    with db.atomic():
        cursor = db.execute(
            "INSERT INTO seen_requests (key, expires_at) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at"
            " WHERE seen_requests.expires_at < ?",
            [key, expires_at, now],
        )
        return cursor.rowcount == 1


def count_seen(db: Store) -> int:
    """How many request keys are remembered (expired ones included until the next call)."""
    return int(db.execute("SELECT count(*) FROM seen_requests").fetchone()[0])

"""Post pacing shared by every sender on one database (every replica).

A platform's limits belong to the bot token or the channel, not to a process: Discord's global
limit (50 requests a second) counts every replica's posts together, and Slack allows about
one post a second per channel. Each limit is a row of `send_pacing`: `next_at` is the earliest
instant the next post in that bucket may go out. A sender reserves a slot before each post
(`reserve_slot`: compare-and-set, so two replicas never get the same slot), and a sender told
by the platform to back off (Discord's global 429) pushes the bucket's `next_at` past the
wait (`hold`), which slows every replica at once.

Compare-and-set rather than an advisory lock: it works the same on SQLite and PostgreSQL,
holds no lock across the post, and a sender that dies after reserving costs one slot.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlite_utils.migrations import Migrations

from storage.db import Store, register
from storage.outbox import stamp

migrations = register(Migrations("rotation.pacing"))

MAX_TRIES = 50  # compare-and-set rounds lost to other senders before giving up the slot race


@migrations()
def create_send_pacing(db: Store) -> None:
    """One row per pacing bucket: when its next post may go out."""
    db.execute("CREATE TABLE send_pacing (bucket TEXT PRIMARY KEY, next_at TEXT NOT NULL)")


def reserve_slot(db: Store, bucket: str, interval: float, now: datetime) -> datetime:
    """The instant this sender may post in `bucket`; the bucket's next slot moves `interval` on.

    With `interval` 0 nothing is reserved, but a hold (`hold`) is still obeyed.
    """
    for _ in range(MAX_TRIES):
        current = _next_at(db, bucket)
        slot = max(now, current) if current is not None else now
        if interval <= 0:
            return slot
        following = stamp(slot + timedelta(seconds=interval))
        if _swap(db, bucket, current, following):
            return slot
    # Lost every round to others (dozens of senders on one bucket): post after all of them.
    return (_next_at(db, bucket) or now) + timedelta(seconds=interval)


def hold(db: Store, bucket: str, until: datetime) -> None:
    """No post in `bucket` before `until` (a platform's back-off), for every sender."""
    db.execute(
        "INSERT INTO send_pacing (bucket, next_at) VALUES (?, ?) ON CONFLICT (bucket) DO UPDATE"
        " SET next_at = CASE WHEN send_pacing.next_at < excluded.next_at"
        " THEN excluded.next_at ELSE send_pacing.next_at END",
        [bucket, stamp(until)],
    )


def _next_at(db: Store, bucket: str) -> datetime | None:
    row = db.execute("SELECT next_at FROM send_pacing WHERE bucket = ?", [bucket]).fetchone()
    return datetime.fromisoformat(row[0]) if row else None


def _swap(db: Store, bucket: str, seen: datetime | None, following: str) -> bool:
    """Set the bucket's next slot if nobody moved it since we read `seen`."""
    if seen is None:
        cursor = db.execute(
            "INSERT INTO send_pacing (bucket, next_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [bucket, following],
        )
    else:
        cursor = db.execute(
            "UPDATE send_pacing SET next_at = ? WHERE bucket = ? AND next_at = ?",
            [following, bucket, stamp(seen)],
        )
    return cursor.rowcount == 1

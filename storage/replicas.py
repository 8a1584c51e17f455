"""The replicas registry: one row per `rotation-bot run` process sharing this database.

Each replica writes its own row (who, since when, last seen, version, role) and refreshes
`last_seen` every few seconds; `status` and `/status` read the rows to show the replicas and
which one leads. A row whose `last_seen` is older than the caller's staleness bound belongs to
a replica that is gone (killed, hung, machine down); the leader prunes rows gone for long.
Roles: `leader`, `follower`, `stopped` (a clean shutdown). `stalled` says why and for how long
a replica's worker has not been able to work (NULL while it works): a stuck leader is told
from a working one, although its lease and heartbeat are fresh.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlite_utils.migrations import Migrations

from storage.db import Store, register
from storage.stamps import server_now

migrations = register(Migrations("rotation.replicas"))

_COLUMNS = ("id", "host", "pid", "version", "engine", "started_at", "last_seen", "role")


@migrations()
def create_replicas(db: Store) -> None:
    """`replicas`: one row per running (or recently running) service process."""
    db.execute(
        """
        CREATE TABLE replicas (
            id TEXT PRIMARY KEY,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            version TEXT NOT NULL,
            engine TEXT NOT NULL,
            started_at TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            role TEXT NOT NULL,
            leader_since TEXT
        )
        """
    )


@migrations()
def add_stalled(db: Store) -> None:
    """`replicas.stalled`: why the replica's worker has not worked, while it has not."""
    db.execute("ALTER TABLE replicas ADD COLUMN stalled TEXT")


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _at(db: Store, now: datetime | None) -> datetime:
    # Replicas on several hosts compare these instants (status, pruning): by default they are
    # the database server's, so a replica whose clock runs ahead neither looks alive after it
    # died nor prunes the others.
    return now if now is not None else server_now(db)


def announce(db: Store, replica: dict[str, object], now: datetime | None = None) -> None:
    """Insert (or reset) this replica's row as a follower seen `now` (the server's by default)."""
    now = _at(db, now)
    row = {**replica, "last_seen": _iso(now), "role": "follower"}
    values = [row[column] for column in _COLUMNS]
    db.execute(
        f"INSERT INTO replicas ({', '.join(_COLUMNS)}, leader_since)"  # noqa: S608
        f" VALUES ({', '.join('?' for _ in _COLUMNS)}, NULL)"
        " ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at,"
        " last_seen = excluded.last_seen, role = excluded.role, leader_since = NULL",
        values,
    )


def beat(
    db: Store,
    replica_id: str,
    now: datetime | None = None,
    stalled: str | None = None,
    role: str | None = None,
) -> None:
    """This replica is alive at `now` (its worker stalled, or None while it works).

    `role` writes the role again: a change of role whose write failed (the database was away
    as it happened) is put right by the next beat.
    """
    now = _at(db, now)
    with db.atomic():
        if role == "leader":  # its set_role may have failed: demote stale rows here too
            _demote_others(db, replica_id)
        _beat(db, replica_id, now, stalled, role)


def _beat(db: Store, replica_id: str, now: datetime, stalled: str | None, role: str | None) -> None:
    db.execute(
        "UPDATE replicas SET last_seen = ?, stalled = ?, role = coalesce(?, role),"
        " leader_since = CASE WHEN coalesce(?, role) = 'leader'"
        " THEN coalesce(leader_since, ?) END WHERE id = ?",
        [_iso(now), stalled, role, role, _iso(now), replica_id],
    )


def set_role(db: Store, replica_id: str, role: str, now: datetime | None = None) -> None:
    """Record a change of role; `leader_since` is set when it becomes the leader.

    A new leader holds the lease, so any other row still saying `leader` is stale (its
    replica lost the lease while the database was away and could not say so yet): it is
    made a follower in the same transaction, and the registry never shows two leaders.
    """
    now = _at(db, now)
    since = _iso(now) if role == "leader" else None
    with db.atomic():
        if role == "leader":
            _demote_others(db, replica_id)
        db.execute(
            "UPDATE replicas SET role = ?, leader_since = ?, last_seen = ? WHERE id = ?",
            [role, since, _iso(now), replica_id],
        )


def _demote_others(db: Store, replica_id: str) -> None:
    # The lease holder writes this: any other row saying leader is stale.
    db.execute(
        "UPDATE replicas SET role = 'follower', leader_since = NULL"
        " WHERE role = 'leader' AND id <> ?",
        [replica_id],
    )


def list_replicas(db: Store) -> list[dict[str, object]]:
    """Every registered replica, the most recently started first."""
    if not db.has_table("replicas"):
        return []
    return list(db.query("SELECT * FROM replicas ORDER BY started_at DESC, id"))


def prune_gone(db: Store, age: timedelta) -> int:
    """Forget replicas not seen for `age` by the server's clock; return how many."""
    return prune(db, server_now(db) - age)


def prune(db: Store, seen_before: datetime) -> int:
    """Forget replicas not seen since `seen_before`; return how many."""
    cursor = db.execute("DELETE FROM replicas WHERE last_seen < ?", [_iso(seen_before)])
    return max(cursor.rowcount, 0)

"""On-call state: subscriptions, mutes and acknowledgements (rounds: `storage/renotify.py`).

Times are stored as ISO 8601 UTC strings (`2026-01-02T14:30:00+00:00`) so that string
comparison in SQL is time comparison; every function takes `now` so tests control the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlite_utils.migrations import Migrations

from storage.db import Store, register

migrations = register(Migrations("rotation.subscriptions"))

ALL = "all"
PLATFORMS = ("discord", "slack")
MODES = ("dm", "mention")


@migrations()
def create_on_call_tables(db: Store) -> None:
    """Subscriptions, mutes, acknowledgements and renotify rounds."""
    # One execute per statement: executescript would COMMIT the migration's transaction.
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


_SCHEMA = """
        CREATE TABLE subscriptions (
            platform TEXT NOT NULL, user_id TEXT NOT NULL, rule_id TEXT NOT NULL,
            mode TEXT NOT NULL CHECK (mode IN ('dm', 'mention')), created_at TEXT NOT NULL,
            PRIMARY KEY (platform, user_id, rule_id)
        );
        CREATE INDEX subscriptions_by_rule ON subscriptions (rule_id, platform);
        CREATE TABLE mutes (
            rule_id TEXT PRIMARY KEY, until TEXT NOT NULL, muted_by TEXT NOT NULL,
            platform TEXT NOT NULL, created_at TEXT NOT NULL
        );
        CREATE TABLE acknowledgements (
            dedupe_key TEXT PRIMARY KEY, platform TEXT NOT NULL, user_id TEXT NOT NULL,
            acked_at TEXT NOT NULL
        );
        CREATE TABLE renotify (
            dedupe_key TEXT PRIMARY KEY, rule_id TEXT NOT NULL, round INTEGER NOT NULL,
            max_rounds INTEGER NOT NULL, interval_seconds INTEGER NOT NULL, next_at TEXT NOT NULL,
            escalated INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        );
        CREATE INDEX renotify_due ON renotify (done, next_at);
"""


@dataclass(frozen=True)
class Subscription:
    """A user's wish to be told about one rule (or `all`) on one platform."""

    platform: str
    user_id: str
    rule_id: str
    mode: str
    created_at: str


@dataclass(frozen=True)
class Mute:
    """A rule (or `all`) silenced until `until`."""

    rule_id: str
    until: str
    muted_by: str
    platform: str
    created_at: str


@dataclass(frozen=True)
class Acknowledgement:
    """Who acknowledged an alert first; `first` is True only for the call that recorded it."""

    dedupe_key: str
    platform: str
    user_id: str
    acked_at: str
    first: bool


def iso(moment: datetime) -> str:
    """A timezone-aware moment as the ISO UTC string stored in every table."""
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _check(platform: str, mode: str | None = None) -> None:
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform: {platform!r}")
    if mode is not None and mode not in MODES:
        raise ValueError(f"unknown subscription mode: {mode!r}")


# Subscriptions


def subscribe(
    db: Store, platform: str, user_id: str, rule_id: str, mode: str, *, now: datetime
) -> Subscription:
    """Subscribe a user to a rule or `all`; subscribing again only changes the mode."""
    _check(platform, mode)
    with db.atomic():
        db.execute(
            "INSERT INTO subscriptions VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (platform, user_id, rule_id) DO UPDATE SET mode = excluded.mode",
            [platform, user_id, rule_id, mode, iso(now)],
        )
    return _one_subscription(db, platform, user_id, rule_id)


def _one_subscription(db: Store, platform: str, user_id: str, rule_id: str) -> Subscription:
    row = db.execute(
        "SELECT * FROM subscriptions WHERE platform = ? AND user_id = ? AND rule_id = ?",
        [platform, user_id, rule_id],
    ).fetchone()
    return Subscription(*row)


def unsubscribe(db: Store, platform: str, user_id: str, rule_id: str) -> int:
    """Remove one subscription, or every one of the user's with `all`; return how many."""
    _check(platform)
    sql = "DELETE FROM subscriptions WHERE platform = ? AND user_id = ?"
    params = [platform, user_id]
    if rule_id != ALL:
        sql += " AND rule_id = ?"
        params.append(rule_id)
    with db.atomic():
        return db.execute(sql, params).rowcount


def list_subscriptions(db: Store, platform: str, user_id: str) -> list[Subscription]:
    """A user's subscriptions on a platform, `all` first then by rule id."""
    rows = db.execute(
        "SELECT * FROM subscriptions WHERE platform = ? AND user_id = ?"
        " ORDER BY rule_id != 'all', rule_id",
        [platform, user_id],
    )
    return [Subscription(*row) for row in rows]


def subscribers_for(db: Store, rule_id: str, platform: str) -> list[Subscription]:
    """Who to tell about `rule_id` on `platform`: one per user, their own row beats `all`."""
    rows = db.execute(
        "SELECT * FROM subscriptions WHERE platform = ? AND rule_id IN (?, 'all')"
        " ORDER BY user_id, rule_id = 'all'",
        [platform, rule_id],
    )
    chosen: dict[str, Subscription] = {}
    for row in rows:
        chosen.setdefault(row[1], Subscription(*row))
    return list(chosen.values())


@dataclass(frozen=True)
class Recipients:
    """Subscribers of a rule on one platform, split by how they asked to be told."""

    mention: tuple[str, ...]
    dm: tuple[str, ...]


def recipients(db: Store, rule_id: str, platform: str) -> Recipients:
    """User ids to mention in the channel alert and to DM, for `rule_id` (expanding `all`)."""
    found = subscribers_for(db, rule_id, platform)
    return Recipients(
        mention=tuple(s.user_id for s in found if s.mode == "mention"),
        dm=tuple(s.user_id for s in found if s.mode == "dm"),
    )


# Mutes


def mute(
    db: Store, rule_id: str, until: datetime, *, by: str, platform: str, now: datetime
) -> Mute:
    """Silence a rule (or `all`) until `until`, replacing any earlier mute of it."""
    _check(platform)
    if until <= now:
        raise ValueError("a mute must end in the future")
    with db.atomic():
        db.execute(
            "INSERT INTO mutes VALUES (?, ?, ?, ?, ?) ON CONFLICT (rule_id) DO UPDATE SET"
            " until = excluded.until, muted_by = excluded.muted_by,"
            " platform = excluded.platform, created_at = excluded.created_at",
            [rule_id, iso(until), by, platform, iso(now)],
        )
    return Mute(rule_id, iso(until), by, platform, iso(now))


def unmute(db: Store, rule_id: str) -> bool:
    """Lift a mute; True if there was one."""
    with db.atomic():
        return db.execute("DELETE FROM mutes WHERE rule_id = ?", [rule_id]).rowcount > 0


def active_mutes(db: Store, now: datetime) -> list[Mute]:
    """Mutes still in force at `now`, by rule id."""
    rows = db.execute("SELECT * FROM mutes WHERE until > ? ORDER BY rule_id", [iso(now)])
    return [Mute(*row) for row in rows]


def muted(db: Store, rule_id: str, now: datetime) -> Mute | None:
    """The mute silencing `rule_id` at `now` (its own or `all`), if any."""
    row = db.execute(
        "SELECT * FROM mutes WHERE rule_id IN (?, 'all') AND until > ?"
        " ORDER BY rule_id = 'all' LIMIT 1",
        [rule_id, iso(now)],
    ).fetchone()
    return Mute(*row) if row else None


# Acknowledgements


def acknowledge(
    db: Store, dedupe_key: str, *, platform: str, user_id: str, now: datetime
) -> Acknowledgement:
    """Record an acknowledgement once; later calls return the first one with `first=False`."""
    _check(platform)
    with db.atomic():
        inserted = db.execute(
            "INSERT INTO acknowledgements VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [dedupe_key, platform, user_id, iso(now)],
        ).rowcount
    found = acknowledgement(db, dedupe_key)
    assert found is not None
    return Acknowledgement(
        found.dedupe_key, found.platform, found.user_id, found.acked_at, bool(inserted)
    )


def acknowledgement(db: Store, dedupe_key: str) -> Acknowledgement | None:
    """The recorded acknowledgement of an alert, if any."""
    row = db.execute("SELECT * FROM acknowledgements WHERE dedupe_key = ?", [dedupe_key]).fetchone()
    return Acknowledgement(*row, first=False) if row else None

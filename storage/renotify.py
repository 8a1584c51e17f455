"""Re-notification rounds: an unacknowledged alert re-sent every interval, then escalated.

The `renotify` table is created with the other on-call tables (`storage/subscriptions.py`):
a round is due only while its alert has no acknowledgement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.db import Store
from storage.subscriptions import iso


@dataclass(frozen=True)
class Renotify:
    """An alert's re-notification schedule; `escalate` means this round goes to the channel."""

    dedupe_key: str
    rule_id: str
    round: int
    max_rounds: int
    interval_seconds: int
    next_at: str
    escalated: bool
    done: bool

    @property
    def escalate(self) -> bool:
        """True when the subscribers have had `max_rounds` rounds and the channel is next."""
        return self.round >= self.max_rounds


# A round is posted under its own outbox key, so the platforms' duplicate checks (Discord
# nonce and footer, Slack metadata) never confuse it with the original alert or another round.
RENOTIFY_SUFFIX = ":renotify:"
ESCALATION_SUFFIX = ":escalated"


def renotify_key(dedupe_key: str, round_number: int) -> str:
    """The outbox key of re-notification round `round_number` (1, 2, ...) of an alert."""
    return f"{dedupe_key}{RENOTIFY_SUFFIX}{round_number}"


def escalation_key(dedupe_key: str) -> str:
    """The outbox key of an alert's escalation to the channel."""
    return f"{dedupe_key}{ESCALATION_SUFFIX}"


def original_alert_key(key: str) -> str:
    """The alert a round's key belongs to (acknowledging a reminder acknowledges the alert)."""
    if key.endswith(ESCALATION_SUFFIX):
        return key.removesuffix(ESCALATION_SUFFIX)
    base, found, number = key.rpartition(RENOTIFY_SUFFIX)
    return base if found and number.isdigit() else key


def schedule_renotify(
    db: Store,
    dedupe_key: str,
    rule_id: str,
    *,
    interval: timedelta,
    max_rounds: int,
    now: datetime,
) -> Renotify:
    """Start re-notifying an alert every `interval`; scheduling it again changes nothing."""
    if interval <= timedelta(0) or max_rounds < 0:
        raise ValueError("renotify needs a positive interval and max_rounds >= 0")
    with db.atomic():
        db.execute(
            "INSERT INTO renotify"
            " (dedupe_key, rule_id, round, max_rounds, interval_seconds, next_at, created_at)"
            " VALUES (?, ?, 0, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                dedupe_key,
                rule_id,
                max_rounds,
                int(interval.total_seconds()),
                iso(now + interval),
                iso(now),
            ],
        )
    return _renotify(db, dedupe_key)


def _renotify(db: Store, dedupe_key: str) -> Renotify:
    row = db.execute(
        "SELECT dedupe_key, rule_id, round, max_rounds, interval_seconds, next_at, escalated,"
        " done FROM renotify WHERE dedupe_key = ?",
        [dedupe_key],
    ).fetchone()
    if row is None:
        raise KeyError(dedupe_key)
    return Renotify(*row[:6], escalated=bool(row[6]), done=bool(row[7]))


def due_renotifications(db: Store, now: datetime) -> list[Renotify]:
    """Rounds due at `now` for alerts neither acknowledged, reversed nor finished."""
    rows = db.execute(
        "SELECT dedupe_key FROM renotify r WHERE done = 0 AND next_at <= ?"
        " AND NOT EXISTS (SELECT 1 FROM acknowledgements a WHERE a.dedupe_key = r.dedupe_key)"
        " ORDER BY next_at, dedupe_key",
        [iso(now)],
    )
    return [_renotify(db, key) for (key,) in rows.fetchall()]


def record_renotify(db: Store, dedupe_key: str, *, now: datetime) -> Renotify:
    """Record that the due round was sent: the next round, or done after escalating."""
    current = _renotify(db, dedupe_key)
    with db.atomic():
        if current.escalate:
            db.execute(
                "UPDATE renotify SET escalated = 1, done = 1 WHERE dedupe_key = ?", [dedupe_key]
            )
        else:
            next_at = iso(now + timedelta(seconds=current.interval_seconds))
            db.execute(
                "UPDATE renotify SET round = round + 1, next_at = ? WHERE dedupe_key = ?",
                [next_at, dedupe_key],
            )
    return _renotify(db, dedupe_key)


def stop_renotify(db: Store, dedupe_key: str) -> bool:
    """Stop re-notifying an alert (reversed or resolved); True if it was still running."""
    with db.atomic():
        sql = "UPDATE renotify SET done = 1 WHERE dedupe_key = ? AND done = 0"
        return db.execute(sql, [dedupe_key]).rowcount > 0

"""Every posted copy of an alert: what an acknowledgement edits on every platform.

The outbox keeps one row per (alert key, destination) with the platform's message id once
delivered; an alert's re-notification rounds and escalation are rows of their own keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Store
from storage.renotify import ESCALATION_SUFFIX, RENOTIFY_SUFFIX, original_alert_key


@dataclass(frozen=True)
class PostedCopy:
    """One delivered post of an alert (or of one of its rounds) and its message id."""

    dedupe_key: str
    destination: str
    message_id: str


def posted_copies(db: Store, alert_key: str) -> list[PostedCopy]:
    """The alert's delivered posts with a message id, its rounds' too, in delivery order."""
    rows = db.query(
        "SELECT dedupe_key, destination, message_id FROM outbox"
        " WHERE status = 'delivered' AND message_id IS NOT NULL"
        " AND (dedupe_key = ? OR dedupe_key = ? OR dedupe_key LIKE ?)"
        " ORDER BY id",
        [alert_key, alert_key + ESCALATION_SUFFIX, alert_key + RENOTIFY_SUFFIX + "%"],
    )
    return [
        PostedCopy(row["dedupe_key"], row["destination"], row["message_id"])
        for row in rows
        # LIKE's `_` and `%` match more than themselves: keep the alert's own rounds only.
        if original_alert_key(row["dedupe_key"]) == alert_key
    ]

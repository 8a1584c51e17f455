"""Outbox entries that are not signal events (the daily digest): a ready message as JSON.

They share the outbox tables with alerts (`outbox_alerts` holds the payload and chart,
`outbox` one row per destination), so they are queued once, delivered in order, retried and
looked up after a crash exactly like alerts. Their payload carries `"format": "message"`,
which tells it from an event's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from storage.db import Store
from storage.outbox import _insert_row, stamp

MESSAGE_FORMAT = "message"


def enqueue_message(
    db: Store,
    key: str,
    payload: Mapping[str, Any],
    destinations: Sequence[str],
    *,
    chart: bytes | None,
    now: datetime,
) -> int:
    """Record the message once under `key` and a row per destination; return the new rows.

    Idempotent like `storage.outbox.enqueue_alerts`: a (key, destination) pair is queued once,
    in this process or after a restart.
    """
    when = stamp(now)
    body = json.dumps({**payload, "format": MESSAGE_FORMAT}, default=str, sort_keys=True)
    with db.atomic():
        db.execute(
            "INSERT INTO outbox_alerts (dedupe_key, payload, chart, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [key, body, chart, when],
        )
        return sum(_insert_row(db, key, destination, when) for destination in destinations)


def load_message(db: Store, key: str) -> tuple[dict[str, Any], bytes | None] | None:
    """The message payload and chart stored under `key`; None when `key` holds an event."""
    row = db.execute(
        "SELECT payload, chart FROM outbox_alerts WHERE dedupe_key = ?", [key]
    ).fetchone()
    if row is None:
        raise KeyError(key)
    payload = json.loads(row[0])
    return (payload, row[1]) if payload.get("format") == MESSAGE_FORMAT else None

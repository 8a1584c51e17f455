"""Ready messages through the outbox (the daily digest), and what any outbox key posts.

Alerts are stored as their signal event and rendered when sent; a digest is not an event,
so it is stored as the finished platform-neutral message. Either way the outbox row is
delivered, retried and looked up after a crash the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from bot.delivery.message import AlertMessage, build_alert_message
from storage.db import Store
from storage.outbox import load_alert
from storage.outbox_messages import enqueue_message, load_message


def queue_message(
    db: Store, message: AlertMessage, destinations: Sequence[str], *, now: datetime
) -> int:
    """Queue `message` once per destination under its key; return the rows added."""
    payload = message_payload(message)
    return enqueue_message(db, message.key, payload, destinations, chart=message.chart_png, now=now)


def outbox_message(db: Store, key: str) -> AlertMessage:
    """The message an outbox key posts: a stored message as is, an alert built from its event."""
    stored = load_message(db, key)
    if stored is not None:
        return message_from_payload(*stored)
    event, chart = load_alert(db, key)
    # A re-notification round has its own key (footer, nonce, metadata, buttons).
    return replace(build_alert_message(event, chart), key=key)


def message_payload(message: AlertMessage) -> dict[str, Any]:
    """The message as JSON-ready data (the chart is stored beside it, mentions never)."""
    return {
        "key": message.key,
        "rule_id": message.rule_id,
        "kind": message.kind,
        "title": message.title,
        "direction": message.direction,
        "data_date": message.data_date.isoformat(),
        "description": message.description,
        "fields": [list(pair) for pair in message.fields],
        "symbols": list(message.symbols),
    }


def message_from_payload(payload: Mapping[str, Any], chart: bytes | None) -> AlertMessage:
    """The message `message_payload` stored, with its chart."""
    return AlertMessage(
        key=str(payload["key"]),
        rule_id=str(payload["rule_id"]),
        kind=str(payload["kind"]),
        title=str(payload["title"]),
        direction=payload["direction"],
        data_date=date.fromisoformat(payload["data_date"]),
        description=str(payload.get("description", "")),
        fields=tuple((str(name), str(value)) for name, value in payload.get("fields", ())),
        symbols=tuple(payload.get("symbols", ())),
        chart_png=chart,
    )

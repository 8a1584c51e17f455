"""Ready messages (the digest) in the outbox: queued once per destination, told from events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storage.outbox import due_rows, enqueue_alerts, list_outbox
from storage.outbox_messages import enqueue_message, load_message
from tests.storage.test_outbox import make_event

T0 = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)
PAYLOAD = {"key": "digest:2026-11-20", "title": "Daily rotation digest 2026-11-20"}


def test_a_message_is_queued_once_per_destination(fresh_db):
    destinations = ["discord:1", "slack:C0ALERTS1"]
    assert (
        enqueue_message(fresh_db, PAYLOAD["key"], PAYLOAD, destinations, chart=b"png", now=T0) == 2
    )
    again = enqueue_message(
        fresh_db, PAYLOAD["key"], PAYLOAD, [*destinations, "console"], chart=None, now=T0
    )
    assert again == 1  # only the destination that had no row yet
    rows = list_outbox(fresh_db)
    assert [(r["destination"], r["title"]) for r in rows] == [
        (name, PAYLOAD["title"]) for name in [*destinations, "console"]
    ]
    assert len(due_rows(fresh_db, T0)) == 3
    payload, chart = load_message(fresh_db, PAYLOAD["key"])
    assert (payload["title"], payload["format"], chart) == (PAYLOAD["title"], "message", b"png")


def test_an_event_key_is_not_a_message_and_an_unknown_key_is_an_error(fresh_db):
    event = make_event()
    enqueue_alerts(fresh_db, [event], ["console"], now=T0)
    assert load_message(fresh_db, event.dedupe_key) is None
    with pytest.raises(KeyError):
        load_message(fresh_db, "digest:1999-01-01")

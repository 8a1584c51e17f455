"""Posted copies of an alert (what an acknowledgement edits), on both engines."""

from __future__ import annotations

from datetime import UTC, datetime

from storage.db import Store
from storage.outbox import enqueue_alert
from storage.outbox_claims import claim_next, finish_delivered
from storage.outbox_copies import PostedCopy, posted_copies
from storage.renotify import escalation_key, renotify_key
from tests.storage.test_outbox import make_event

NOW = datetime(2026, 11, 20, 21, 30, tzinfo=UTC)


def test_every_delivered_copy_of_an_alert_and_its_rounds(fresh_db: Store) -> None:
    event = make_event(rule="a_b")  # `_` is a LIKE wildcard: "a_b" must not find "axb"
    other = make_event(rule="axb")
    key, other_key = event.dedupe_key, other.dedupe_key
    enqueue_alert(fresh_db, key, event, {"discord:1": (), "slack:C0ALERTS1": ()}, now=NOW)
    enqueue_alert(fresh_db, renotify_key(key, 1), event, {"discord:dm:42": ()}, now=NOW)
    enqueue_alert(fresh_db, escalation_key(key), event, {"discord:1": ()}, now=NOW)
    enqueue_alert(fresh_db, other_key, other, {"discord:1": ()}, now=NOW)
    posting = ["discord:1", "discord:dm:42"]  # slack:C0ALERTS1 stays pending: nothing to edit
    number = 0
    while (claim := claim_next(fresh_db, posting, NOW, 60, "test")) is not None:
        assert finish_delivered(fresh_db, claim, f"m{number}", NOW)
        number += 1

    copies = posted_copies(fresh_db, key)

    assert {(c.dedupe_key, c.destination) for c in copies} == {
        (key, "discord:1"),
        (renotify_key(key, 1), "discord:dm:42"),
        (escalation_key(key), "discord:1"),
    }
    assert all(isinstance(c, PostedCopy) and c.message_id.startswith("m") for c in copies)
    assert posted_copies(fresh_db, "nothing") == []

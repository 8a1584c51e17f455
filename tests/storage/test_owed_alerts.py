"""Alerts owed: marked with their events, settled once, on both engines."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from storage.db import open_db
from storage.owed_alerts import count_owed, mark_owed, owed_events, settle
from storage.rule_state import record_events
from tests.storage.test_rule_state import make_event


def test_owed_events_come_back_in_recorded_order_until_settled(fresh_db) -> None:
    events = [make_event(rule_id, date(2025, 3, day)) for rule_id, day in (("b", 5), ("a", 4))]
    with fresh_db.atomic():
        record_events(fresh_db, events)
        mark_owed(fresh_db, [e.dedupe_key for e in events])
    assert [e.rule_id for e in owed_events(fresh_db)] == ["b", "a"]
    assert settle(fresh_db, events[0].dedupe_key) is True
    assert settle(fresh_db, events[0].dedupe_key) is False  # settled once only
    assert [e.rule_id for e in owed_events(fresh_db)] == ["a"] and count_owed(fresh_db) == 1


def test_events_recorded_without_a_mark_are_not_owed(fresh_db) -> None:
    record_events(fresh_db, [make_event()])
    assert owed_events(fresh_db) == [] and settle(fresh_db, make_event().dedupe_key) is False


def test_a_rolled_back_record_leaves_nothing_owed(fresh_db) -> None:
    with pytest.raises(RuntimeError), fresh_db.atomic():
        record_events(fresh_db, [make_event()])
        mark_owed(fresh_db, [make_event().dedupe_key])
        raise RuntimeError("killed before the commit")
    assert count_owed(fresh_db) == 0
    assert record_events(fresh_db, [make_event()]) == [make_event()]  # found again as new


def test_two_queuers_racing_settle_an_event_once(pg_url: str) -> None:
    """The second settle waits for the first transaction, then finds the mark gone."""
    first, second = open_db(pg_url), open_db(pg_url)
    key = make_event().dedupe_key
    with first.atomic():
        record_events(first, [make_event()])
        mark_owed(first, [key])
    results: list[bool] = []
    with first.atomic():
        results.append(settle(first, key))
        racer = threading.Thread(target=lambda: results.append(settle(second, key)))
        racer.start()
        racer.join(0.3)
        assert racer.is_alive()  # blocked on the first queuer's row lock
    racer.join(5)
    assert results == [True, False]
    first.close(), second.close()

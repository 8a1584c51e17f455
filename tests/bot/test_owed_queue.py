"""Owed alerts are queued once, in recorded order, with mutes decided at queue time."""

from __future__ import annotations

from datetime import timedelta

from bot.delivery.alerting import queue_owed
from signals.models import Event
from storage import subscriptions as subs
from storage.db import Store
from storage.outbox import list_outbox, load_alert
from storage.owed_alerts import count_owed, mark_owed
from storage.rule_state import record_events
from tests.fakes.delivery_kit import T0, make_event

CHANNELS = ["discord:111", "slack:C1"]


def record_owed(db: Store, events: list[Event]) -> None:
    """What an evaluation does: events and their owed marks in one transaction."""
    with db.atomic():
        record_events(db, events)
        mark_owed(db, [event.dedupe_key for event in events])


def test_owed_alerts_are_queued_once_in_recorded_order_each_with_its_chart(fresh_db) -> None:
    events = [make_event(day) for day in (24, 20, 23)]
    record_owed(fresh_db, events)
    drawn: list[str] = []

    def render(event: Event) -> bytes:
        drawn.append(event.dedupe_key)
        return f"png {event.date}".encode()

    report = queue_owed(fresh_db, CHANNELS, settings=None, render=render, now=T0)
    keys = [event.dedupe_key for event in events]
    assert (report.alerts, report.rows, drawn) == (3, 6, keys)
    assert [row["dedupe_key"] for row in list_outbox(fresh_db)] == [k for k in keys for _ in "ds"]
    assert load_alert(fresh_db, keys[1])[1] == b"png 2026-11-20"
    again = queue_owed(fresh_db, CHANNELS, settings=None, render=render, now=T0)
    assert (again.alerts, count_owed(fresh_db), len(drawn)) == (0, 0, 3)


def test_an_alert_muted_when_it_is_queued_is_settled_and_not_posted(fresh_db) -> None:
    event = make_event()
    record_owed(fresh_db, [event])
    until = T0 + timedelta(hours=4)
    subs.mute(fresh_db, event.rule_id, until, by="admin", platform="discord", now=T0)
    report = queue_owed(fresh_db, CHANNELS, settings=None, now=T0)
    assert report.muted == [event.dedupe_key] and report.alerts == 0
    assert list_outbox(fresh_db) == [] and count_owed(fresh_db) == 0


def test_routes_are_decided_when_queued(fresh_db) -> None:
    record_owed(fresh_db, [make_event(rule="a"), make_event(rule="b")])
    route = {"a": ["discord:111"], "b": ["slack:C1"]}.__getitem__
    queue_owed(fresh_db, CHANNELS, settings=None, now=T0, route=route)
    rows = [(row["dedupe_key"].split(":")[0], row["destination"]) for row in list_outbox(fresh_db)]
    assert rows == [("a", "discord:111"), ("b", "slack:C1")]

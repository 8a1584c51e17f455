"""The outbox table: idempotent enqueue, per-destination order, claims, retries and dead rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from signals.models import ChartSpec, Event
from storage.db import open_db
from storage.outbox import (
    due_rows,
    enqueue_alerts,
    get_row,
    list_outbox,
    load_alert,
    next_due_at,
)
from storage.outbox_claims import claim_next, finish_delivered, finish_failed

T0 = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)


def make_event(rule: str = "iwc_over_oef", day: int = 20, kind: str = "fired") -> Event:
    return Event(
        rule_id=rule, kind=kind, date=date(2026, 11, day), episode=f"2026-11-{day:02d}",
        title=f"{rule} fired", measure=1.25, threshold=0.0, unit="pp", direction="up",
        symbols=("IWC", "OEF"), description="IWC overtook OEF", fields=(("IWC", "+12.0%"),),
        context={"as_of": date(2026, 11, day)},
        chart=ChartSpec("relative", ("IWC", "OEF"), date(2026, 1, 2), date(2026, 11, day)),
    )  # fmt: skip


def test_enqueue_writes_one_row_per_destination(fresh_db):
    added = enqueue_alerts(fresh_db, [make_event()], ["discord:1", "slack:C1"], now=T0)
    assert added == 2
    rows = list_outbox(fresh_db)
    assert [(r["destination"], r["status"], r["attempts"]) for r in rows] == [
        ("discord:1", "pending", 0),
        ("slack:C1", "pending", 0),
    ]
    assert rows[0]["title"] == "iwc_over_oef fired"


def test_same_event_twice_never_creates_a_second_row_even_after_restart(db_path):
    db = open_db(db_path)
    assert enqueue_alerts(db, [make_event(), make_event()], ["discord:1"], now=T0) == 1
    db.close()
    reopened = open_db(db_path)
    assert enqueue_alerts(reopened, [make_event()], ["discord:1"], now=T0) == 0
    assert len(list_outbox(reopened)) == 1


def test_new_destination_gets_rows_for_an_existing_alert(fresh_db):
    enqueue_alerts(fresh_db, [make_event()], ["discord:1"], now=T0)
    assert enqueue_alerts(fresh_db, [make_event()], ["discord:1", "console"], now=T0) == 1


def test_payload_round_trips_the_event_and_chart(fresh_db):
    event = make_event()
    enqueue_alerts(fresh_db, [event], ["console"], charts={event.dedupe_key: b"PNG"}, now=T0)
    loaded, chart = load_alert(fresh_db, event.dedupe_key)
    assert chart == b"PNG"
    assert loaded.dedupe_key == event.dedupe_key
    assert loaded.chart == event.chart
    assert loaded.fields == event.fields
    assert loaded.context == {"as_of": "2026-11-20"}


def test_due_rows_keep_order_per_destination_and_wait_behind_a_retrying_head(fresh_db):
    events = [make_event(day=18), make_event(day=19), make_event(day=20)]
    enqueue_alerts(fresh_db, events, ["discord:1", "slack:C1"], now=T0)
    due = due_rows(fresh_db, T0)
    assert [(r.destination, r.dedupe_key[-16:]) for r in due][:3] == [
        ("discord:1", "2026-11-18:fired"),
        ("discord:1", "2026-11-19:fired"),
        ("discord:1", "2026-11-20:fired"),
    ]
    head = due[0]
    claim = claim_next(fresh_db, ["discord:1"], T0, 60, "test")
    assert claim is not None and claim.row.id == head.id
    finish_failed(fresh_db, claim, "HTTP 503", retry_at=T0 + timedelta(seconds=30), now=T0)
    assert {r.destination for r in due_rows(fresh_db, T0)} == {"slack:C1"}
    assert next_due_at(fresh_db, ["discord:1"]) == T0 + timedelta(seconds=30)
    later = due_rows(fresh_db, T0 + timedelta(seconds=30))
    assert next(r.id for r in later if r.destination == "discord:1") == head.id


def test_claim_counts_the_attempt_and_only_one_claimer_wins(fresh_db):
    enqueue_alerts(fresh_db, [make_event()], ["discord:1"], now=T0)
    row = due_rows(fresh_db, T0)[0]
    assert claim_next(fresh_db, ["discord:1"], T0, 60, "one") is not None
    assert claim_next(fresh_db, ["discord:1"], T0, 60, "two") is None
    claimed = get_row(fresh_db, row.id)
    assert (claimed.status, claimed.attempts) == ("sending", 1)
    assert due_rows(fresh_db, T0 + timedelta(seconds=59)) == []
    expired = due_rows(fresh_db, T0 + timedelta(seconds=61))
    assert [r.status for r in expired] == ["sending"]


def test_delivered_and_dead_rows_stay_visible(fresh_db):
    enqueue_alerts(fresh_db, [make_event(day=19), make_event(day=20)], ["discord:1"], now=T0)
    first, second = due_rows(fresh_db, T0)
    claim = claim_next(fresh_db, ["discord:1"], T0, 60, "t")
    assert claim is not None and claim.row.id == first.id
    assert finish_delivered(fresh_db, claim, "1234", T0)
    claim = claim_next(fresh_db, ["discord:1"], T0, 60, "t")
    assert claim is not None and claim.row.id == second.id
    finish_failed(fresh_db, claim, "HTTP 403 Missing Access", retry_at=None, now=T0)
    assert [(r["status"], r["message_id"], r["last_error"]) for r in list_outbox(fresh_db)] == [
        ("delivered", "1234", None),
        ("dead", None, "HTTP 403 Missing Access"),
    ]
    assert [r["id"] for r in list_outbox(fresh_db, "dead")] == [second.id]
    assert due_rows(fresh_db, T0 + timedelta(days=1)) == []


def test_rate_limited_failure_gives_the_attempt_back(fresh_db):
    enqueue_alerts(fresh_db, [make_event()], ["discord:1"], now=T0)
    row = due_rows(fresh_db, T0)[0]
    claim = claim_next(fresh_db, ["discord:1"], T0, 60, "t")
    retry = T0 + timedelta(seconds=5)
    finish_failed(fresh_db, claim, "429", retry_at=retry, now=T0, count_attempt=False)
    assert (get_row(fresh_db, row.id).attempts, get_row(fresh_db, row.id).status) == (0, "pending")

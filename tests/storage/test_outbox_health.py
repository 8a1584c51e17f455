"""Destination pauses, giving up by age and re-queueing dead rows (issue 10, item 2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.db import open_db
from storage.outbox import enqueue_alerts, list_outbox
from storage.outbox_health import (
    clear_pause,
    count_by_status,
    count_open,
    destination_pauses,
    expire_rows,
    record_failure,
    requeue_rows,
)
from tests.storage.test_outbox import make_event

T0 = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
WHY = "not delivered within 6 h"


def test_failures_accumulate_per_destination_until_it_answers(fresh_db):
    record_failure(fresh_db, "discord:1", "HTTP 503", probe_at=T0 + timedelta(seconds=2), now=T0)
    later = T0 + timedelta(seconds=2)
    pause = record_failure(fresh_db, "discord:1", "refused", probe_at=later, now=later)
    assert (pause.failures, pause.failing_since, pause.last_error) == (2, T0, "refused")
    assert clear_pause(fresh_db, "discord:1") == pause
    assert destination_pauses(fresh_db) == {} and clear_pause(fresh_db, "discord:1") is None


def test_only_failing_pending_rows_older_than_the_cutoff_of_the_given_destinations_expire(
    fresh_db,
):
    enqueue_alerts(fresh_db, [make_event(day=18)], ["discord:1", "slack:C1"], now=T0)
    enqueue_alerts(fresh_db, [make_event(day=19)], ["discord:1"], now=T0 + timedelta(hours=2))
    cutoff = T0 + timedelta(hours=1)
    # Old, but nothing failed yet (say the service was down): still worth sending.
    assert expire_rows(fresh_db, ["discord:1"], older_than=cutoff, now=cutoff, why=WHY) == []
    record_failure(fresh_db, "discord:1", "HTTP 503", probe_at=cutoff, now=cutoff)
    expired = expire_rows(fresh_db, ["discord:1"], older_than=cutoff, now=cutoff, why=WHY)
    assert [(row.id, row.destination) for row in expired] == [(1, "discord:1")]
    assert [r["status"] for r in list_outbox(fresh_db)] == ["dead", "pending", "pending"]
    assert list_outbox(fresh_db)[0]["last_error"] == WHY
    assert count_open(fresh_db) == 2 and count_open(fresh_db, "discord:1") == 1


def test_requeued_row_is_due_now_with_a_fresh_age_and_its_destination_unpaused(fresh_db):
    enqueue_alerts(fresh_db, [make_event()], ["discord:1"], now=T0)
    late = T0 + timedelta(hours=7)
    record_failure(
        fresh_db, "discord:1", "HTTP 503", probe_at=late + timedelta(minutes=1), now=late
    )
    expire_rows(fresh_db, ["discord:1"], older_than=late - timedelta(hours=6), now=late, why=WHY)
    assert requeue_rows(fresh_db, [1, 1, 99], late) == 1  # 1 again: no longer dead; 99: unknown
    [row] = list_outbox(fresh_db)
    assert (row["status"], datetime.fromisoformat(row["next_attempt_at"])) == ("pending", late)
    assert destination_pauses(fresh_db) == {}
    cutoff = late + timedelta(minutes=1) - timedelta(hours=6)
    assert expire_rows(fresh_db, ["discord:1"], older_than=cutoff, now=late, why=WHY) == []


def test_counts_by_status_include_every_status_and_none_before_the_outbox_exists(fresh_db):
    enqueue_alerts(fresh_db, [make_event(day=18)], ["discord:1", "slack:C1"], now=T0)
    assert count_by_status(fresh_db) == {"pending": 2, "sending": 0, "delivered": 0, "dead": 0}
    assert count_by_status(open_db(None, migrate=False)) is None

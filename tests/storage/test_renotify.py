"""Re-notification rounds in real SQLite: rounds, escalation, stop on acknowledgement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from storage import renotify
from storage import subscriptions as subs

NOW = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def _schedule(db: Database, key: str = "r1:e:fired", rounds: int = 2) -> None:
    renotify.schedule_renotify(
        db, key, "r1", interval=timedelta(hours=1), max_rounds=rounds, now=NOW
    )


def test_renotify_rounds_then_escalate_then_stop(fresh_db: Database) -> None:
    _schedule(fresh_db)
    assert renotify.due_renotifications(fresh_db, NOW + timedelta(minutes=59)) == []
    seen = []
    moment = NOW
    for _ in range(5):
        moment += timedelta(hours=1)
        due = renotify.due_renotifications(fresh_db, moment)
        if not due:
            break
        seen.append((due[0].round, due[0].escalate))
        renotify.record_renotify(fresh_db, due[0].dedupe_key, now=moment)
    assert seen == [(0, False), (1, False), (2, True)]
    final = renotify.due_renotifications(fresh_db, moment + timedelta(days=9))
    assert final == []


def test_renotify_stops_when_acknowledged(fresh_db: Database) -> None:
    _schedule(fresh_db)
    subs.acknowledge(fresh_db, "r1:e:fired", platform="slack", user_id="U1", now=NOW)
    assert renotify.due_renotifications(fresh_db, NOW + timedelta(days=1)) == []


def test_renotify_stop_and_reschedule_is_noop(fresh_db: Database) -> None:
    _schedule(fresh_db)
    _schedule(fresh_db, rounds=9)  # scheduling again must not reset the rounds
    assert renotify.due_renotifications(fresh_db, NOW + timedelta(hours=1))[0].max_rounds == 2
    assert renotify.stop_renotify(fresh_db, "r1:e:fired") is True
    assert renotify.stop_renotify(fresh_db, "r1:e:fired") is False
    assert renotify.due_renotifications(fresh_db, NOW + timedelta(days=1)) == []


def test_zero_rounds_escalates_at_once(fresh_db: Database) -> None:
    _schedule(fresh_db, rounds=0)
    (due,) = renotify.due_renotifications(fresh_db, NOW + timedelta(hours=1))
    assert due.escalate
    assert renotify.record_renotify(fresh_db, due.dedupe_key, now=NOW).escalated

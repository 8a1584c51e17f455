"""The service on PostgreSQL: the run loop's history and catch-up live in the same tables."""

from __future__ import annotations

from datetime import date

from bot.config import load_settings
from bot.service.runner import Service
from storage import service_state
from storage.db import open_db
from tests.bot.test_service import FrozenClock, new_york, run_until_idle
from tests.fakes.recording_jobs import RecordingJobs


async def test_restart_on_postgresql_catches_up_in_order_once(pg_url: str) -> None:
    db = open_db(pg_url)
    last = {"job": "evaluate", "session": date(2025, 11, 21), "outcome": "ok"}
    service_state.record_run(db, {**last, "started_at": "2025-11-21T21:20:00+00:00"})
    db.close()
    now = new_york("2025-11-25T18:00")  # evaluations of Mon 24 and Tue 25 are due
    config = load_settings(None, catchup_alert_days=0, db_path=pg_url)

    first, second = RecordingJobs(), RecordingJobs()
    for jobs in (first, second):
        service = Service(config, jobs, db_path=pg_url, clock=FrozenClock(now))  # type: ignore[arg-type]
        assert await run_until_idle(service) == 0

    assert first.calls == [
        ("evaluate", "2025-11-24", "2025-11-24 16:20", False),
        ("evaluate", "2025-11-25", "2025-11-25 16:20", True),
        # 17:30's digest went by while the bot was down, 30 minutes ago: it still goes out
        # (once: the second start finds it done).
        ("digest", "2025-11-25", "2025-11-25 17:30", None),
        ("deliver", "", "", None),
    ]
    assert second.calls == []
    assert service_state.last_evaluated_session(open_db(pg_url)) == date(2025, 11, 25)


async def test_an_enqueue_by_another_replica_wakes_this_services_sender(pg_url: str) -> None:
    """LISTEN/NOTIFY: a delivery pass starts at once, not at the next 30 s poll."""
    import asyncio

    from bot.delivery.wake import wake_on_queued
    from storage.outbox import enqueue_alerts
    from tests.fakes.delivery_kit import make_event

    config = load_settings(None, catchup_alert_days=0, db_path=pg_url)
    jobs = RecordingJobs()
    wake = wake_on_queued(pg_url, lambda: service.wake_sender())
    service = Service(
        config, jobs, db_path=pg_url, clock=FrozenClock(new_york("2025-11-22T12:00")),  # type: ignore[arg-type]
        extra_tasks=[wake],
    )  # fmt: skip
    task = asyncio.create_task(service.run())
    await service.ready.wait()
    assert service.worker is not None
    await asyncio.sleep(1.5)  # the listener is up (it wakes once on connecting)
    await service.worker.wait_idle()
    before = jobs.kinds().count("deliver")
    other = open_db(pg_url)  # another replica queues an alert
    enqueue_alerts(other, [make_event(1)], ["discord:1"])
    other.close()
    for _ in range(50):
        await asyncio.sleep(0.1)
        if jobs.kinds().count("deliver") > before:
            break
    service.request_stop("test done")
    await asyncio.wait_for(task, 10)
    assert jobs.kinds().count("deliver") == before + 1

"""Issue 12 item 2: two leaders overlapping for a moment cannot repeat an alert.

A leader that hung in the middle of an evaluation wakes up after its successor has redone
it (or while the successor is redoing it): both evaluate the same session on the same
PostgreSQL database at once. Every write is idempotent (events recorded once per rule and
session, the outbox unique per dedupe key and destination), so the alerts queued are exactly
those of one evaluation. Real `ServiceJobs` on the shared data, nothing fetched.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

from bot import calendar
from bot.config import load_settings
from bot.service.jobs import ServiceJobs
from tests.fakes.ha_kit import copy_database, outbox_rows, prepare_database
from tests.pg_cluster import Cluster

SESSION = date(2026, 7, 2)  # the backtest has an event that day
AT = datetime(2026, 7, 2, 20, 20, tzinfo=UTC)


def jobs_on(url: str) -> ServiceJobs:
    settings = load_settings(None, db_path=url, catchup_alert_days=3650)
    return ServiceJobs(settings, url, network=False)  # type: ignore[arg-type]


async def evaluate(url: str, times: int, session: date = SESSION) -> list[int]:
    """`times` replicas' jobs evaluating `session` at the same moment; new events of each."""
    replicas = [jobs_on(url) for _ in range(times)]
    try:
        runs = (jobs.evaluate_session(session, AT, alert=True) for jobs in replicas)
        return list(await asyncio.gather(*runs))
    finally:
        for jobs in replicas:
            jobs.close()


async def prime(url: str, sessions: list[date]) -> None:
    """Evaluate `sessions` in order: the rules' state as the live bot has it after them."""
    jobs = jobs_on(url)
    try:
        for session in sessions:
            await jobs.evaluate_session(session, AT, alert=True)
    finally:
        jobs.close()


def name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


async def test_two_leaders_evaluating_one_session_queue_each_alert_once(
    shared_data: Path, pg_cluster: Cluster
) -> None:
    url = pg_cluster.new_database()
    prepare_database(url, shared_data, last_done=date(2026, 4, 30))
    await prime(url, calendar.sessions_between(date(2026, 5, 1), date(2026, 7, 1)))
    reference = pg_cluster.url(name(url) + "_one")
    copy_database(pg_cluster.url("postgres"), name(url), name(reference))

    assert await evaluate(reference, 1) != [0]
    expected = outbox_rows(reference)
    assert expected, "no alert on the chosen session: nothing would be counted"

    both = await evaluate(url, 2)  # at the same moment
    late = await evaluate(url, 1)  # the hung one finishing after its successor

    assert outbox_rows(url) == expected
    assert sorted(both)[0] == 0, "the same events recorded by both leaders"
    assert late == [0]

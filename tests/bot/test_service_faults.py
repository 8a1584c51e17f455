"""Issue 18: the pieces that keep a replica whole when PostgreSQL goes away, one at a time.

On a real PostgreSQL (`pg_url`); a session ended with `pg_terminate_backend` is what a server
restart or an idle-connection reaper does to it. The whole replicas are tried in
`tests/bot/test_pg_faults.py`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest

from bot.config import load_settings
from bot.service import tasks
from bot.service.leader import Leadership
from bot.service.runner import Service
from bot.service.worker import StateStore, Worker, WorkItem, connect_shared
from storage import replicas, service_state
from storage.db import StorageError, open_db
from storage.leader_lease import lock_holder
from tests.fakes.clocks import FrozenClock
from tests.fakes.recording_jobs import RecordingJobs

NOW = datetime(2026, 7, 31, 22, 0, tzinfo=UTC)


def end_every_session(url: str) -> None:
    """What a server restart does to the clients of `url` (this admin session excepted)."""
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


class DroppedJobs(RecordingJobs):
    """The first delivery pass meets the server gone: every session of the database ends."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url, self.dropped = url, False

    async def deliver(self) -> Mapping[str, int]:
        await super().deliver()
        if self.dropped:
            return {"delivered": 1}
        self.dropped = True
        db = open_db(self.url, migrate=False)
        end_every_session(self.url)
        try:
            db.execute("SELECT 1")  # the job's own connection, dead too
        finally:
            db.close()
        return {}


async def test_a_job_and_its_record_failing_on_a_dropped_server_leave_the_worker_working(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    jobs = DroppedJobs(pg_url)
    state = StateStore(connect_shared(pg_url))
    worker = Worker(jobs, FrozenClock(NOW), state)  # type: ignore[arg-type]
    task = asyncio.create_task(worker.run())
    with caplog.at_level(logging.INFO):
        worker.submit([WorkItem("deliver", NOW)])
        await worker.wait_idle()  # the pass failed, and recording it on the dead state too
        assert not task.done(), "the worker task ended: a zombie replica"
        assert worker.stalled()[0] >= 0 and "StorageError" in worker.stalled()[1]
        worker.submit([WorkItem("evaluate", NOW, date(2026, 7, 31)), WorkItem("deliver", NOW)])
        await worker.wait_idle()
    worker.close()
    await task
    state.close()

    assert jobs.kinds() == ["deliver", "evaluate", "deliver"]
    assert worker.stalled() == (0.0, "")
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith("database unreachable"), warnings
    assert not any(r.exc_info for r in caplog.records)  # no traceback for an outage
    assert any("reachable again" in r.getMessage() for r in caplog.records)
    runs = service_state.runs(open_db(pg_url, migrate=False))
    assert [r["outcome"] for r in runs if r["job"] == "evaluate"] == ["ok"]


async def test_a_failed_catch_up_gives_the_lease_up_and_the_replica_stands_again(
    pg_url: str,
) -> None:
    leadership = Leadership.for_database(pg_url, 1.0)
    attempts: list[str] = []

    async def catch_up() -> None:
        attempts.append("catch-up")
        if len(attempts) == 1:  # elected just as the server came back: the state is gone
            raise StorageError("PostgreSQL at postgresql://db/x: server closed the connection")

    leadership.on_elected = catch_up
    assert await leadership.start()
    await leadership.elected()
    assert not leadership.leading.is_set()
    for _ in range(100):  # the server ends the closed session (and frees the lock) promptly
        if lock_holder(pg_url) is None:
            break
        await asyncio.sleep(0.01)
    assert lock_holder(pg_url) is None  # given up
    runner = asyncio.create_task(leadership.run())
    try:
        for _ in range(200):
            if leadership.is_leader():
                break
            await asyncio.sleep(0.02)
        assert leadership.is_leader() and attempts == ["catch-up", "catch-up"]
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await leadership.stop()


async def test_a_leader_whose_worker_cannot_work_gives_its_lease_up(pg_url: str) -> None:
    stuck, healthy = Leadership.for_database(pg_url, 1.0), Leadership.for_database(pg_url, 1.0)
    stuck.watchdog = 50.0
    stalled = [0.0]
    stuck.stalled = lambda: (stalled[0], "every job failing: StorageError: gone")
    assert await stuck.start()
    runners = [asyncio.create_task(stuck.run())]
    try:
        stalled[0] = 40.0  # past what status shows (30 s), within the watchdog: still leads
        stuck._next_beat = 0.0  # the next tick writes the registry row
        await asyncio.sleep(0.5)
        (row,) = replicas.list_replicas(open_db(pg_url, migrate=False))
        assert stuck.is_leader() and row["role"] == "leader"
        assert row["stalled"] == "for 40 s: every job failing: StorageError: gone"

        # (Both Leaderships live in this process: they share one registry row, host:pid.)
        assert not await healthy.start()
        runners.append(asyncio.create_task(healthy.run()))
        stalled[0] = 60.0  # past the watchdog: the stuck leader stands down, the other leads
        for _ in range(200):
            if healthy.is_leader():
                break
            await asyncio.sleep(0.02)
        assert healthy.is_leader() and not stuck.leading.is_set()
        await asyncio.sleep(0.5)
        assert not stuck.leading.is_set()  # it does not stand again while stuck
    finally:
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
        await stuck.stop()
        await healthy.stop()


async def test_a_replica_started_with_the_database_down_exits_2_with_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"postgresql://rotation@/rotation?host={tmp_path}"  # no server on this socket
    settings = load_settings(None, db_path=url)
    service = Service(settings, RecordingJobs(), db_path=url, install_signals=False)  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO):
        code = await asyncio.wait_for(service.run(), 30)
    assert code == tasks.DATABASE_UNREACHABLE
    (line,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert line.getMessage().startswith("cannot reach the database at start (StorageError: ")
    assert line.exc_info is None


async def test_a_supervised_task_that_ends_on_its_own_is_reported() -> None:
    reasons: list[str] = []

    async def dies() -> None:
        raise RuntimeError("a bug")

    async def lives() -> None:
        await asyncio.Event().wait()

    task = tasks.supervised(dies(), "worker", reasons.append)
    cancelled = tasks.supervised(lives(), "leadership", reasons.append)
    await asyncio.gather(task, return_exceptions=True)
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)
    await asyncio.sleep(0)  # done callbacks run on the next loop turn
    assert reasons == ["the worker task ended: the process cannot go on"]


async def test_a_lease_that_lapsed_while_the_loop_was_blocked_is_taken_back_with_a_catch_up(
    pg_url: str,
) -> None:
    # Seen under load: the start-up's planning blocked the loop past a 2 s lease, every
    # catch-up job was refused, and the next tick took the free lock back as a renewal: a
    # leader with nothing to do. Taking it back is an election: the catch-up runs again.
    leadership = Leadership.for_database(pg_url, 1.0)
    catch_ups: list[str] = []

    async def catch_up() -> None:
        catch_ups.append("catch-up")

    leadership.on_elected = catch_up
    assert await leadership.start()
    await leadership.elected()
    time.sleep(1.6)  # noqa: ASYNC251 - the loop blocked: the server ends the lease session
    assert not await leadership.confirm()  # the catch-up's jobs are refused meanwhile
    runner = asyncio.create_task(leadership.run())
    try:
        for _ in range(200):
            if len(catch_ups) == 2 and leadership.is_leader():
                break
            await asyncio.sleep(0.02)
        assert catch_ups == ["catch-up", "catch-up"] and leadership.is_leader()
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await leadership.stop()

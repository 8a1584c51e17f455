"""LISTEN/NOTIFY: an enqueue by any replica wakes every sender at once (PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.delivery.wake import wake_on_queued
from storage.db import open_db
from storage.outbox import enqueue_alerts
from tests.fakes.delivery_kit import make_event


async def _listening(url: str, **options: float) -> tuple[asyncio.Task[None], asyncio.Queue[str]]:
    woken: asyncio.Queue[str] = asyncio.Queue()
    task = asyncio.create_task(wake_on_queued(url, lambda: woken.put_nowait("woken"), **options))
    await asyncio.wait_for(woken.get(), 10)  # the wake-up it gives on connecting
    return task, woken


async def _no_wake(woken: asyncio.Queue[str], seconds: float) -> bool:
    try:
        await asyncio.wait_for(woken.get(), seconds)
    except TimeoutError:
        return True
    return False


def test_an_enqueue_wakes_the_listener_only_when_it_commits(pg_url: str) -> None:
    async def scenario() -> None:
        task, woken = await _listening(pg_url)
        db = open_db(pg_url)
        try:
            with pytest.raises(RuntimeError), db.atomic():
                enqueue_alerts(db, [make_event(1)], ["discord:1"])
                raise RuntimeError("the enqueue is rolled back")
            assert await _no_wake(woken, 1.5)  # nothing committed, nobody woken
            enqueue_alerts(db, [make_event(2)], ["discord:1"])
            assert await asyncio.wait_for(woken.get(), 5) == "woken"
        finally:
            db.close()
            task.cancel()

    asyncio.run(scenario())


def test_a_dropped_listener_reconnects_and_wakes_for_what_it_missed(pg_url: str) -> None:
    async def scenario() -> None:
        task, woken = await _listening(pg_url, retry_seconds=0.2)
        db = open_db(pg_url)
        try:
            db.execute(  # the server drops the listening connection (restart, failover, idle)
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
            )
            enqueue_alerts(db, [make_event(1)], ["discord:1"])  # maybe nobody hears this one
            assert await asyncio.wait_for(woken.get(), 10) == "woken"  # the reconnect wakes
        finally:
            db.close()
            task.cancel()

    asyncio.run(scenario())


def test_sqlite_has_nothing_to_listen_to(tmp_path: Path) -> None:
    woken: list[str] = []
    asyncio.run(wake_on_queued(tmp_path / "rotation.db", lambda: woken.append("woken")))
    assert woken == []

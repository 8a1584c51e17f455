"""Post pacing shared by every sender on the database: slots, holds, and a race for slots."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from storage.db import open_db
from storage.pacing import hold, reserve_slot
from tests.fakes.delivery_kit import T0

SECOND = timedelta(seconds=1)


def test_slots_follow_each_other_by_the_interval(fresh_db):
    slots = [reserve_slot(fresh_db, "slack:C1", 1.0, T0) for _ in range(3)]
    assert slots == [T0, T0 + SECOND, T0 + 2 * SECOND]
    assert reserve_slot(fresh_db, "slack:C2", 1.0, T0) == T0  # buckets are independent
    later = T0 + 10 * SECOND
    assert reserve_slot(fresh_db, "slack:C1", 1.0, later) == later  # idle time is not banked


def test_a_hold_delays_every_sender_and_never_shortens_a_longer_one(fresh_db):
    assert reserve_slot(fresh_db, "discord:bot", 0.0, T0) == T0  # no interval, no hold: now
    hold(fresh_db, "discord:bot", T0 + 5 * SECOND)
    hold(fresh_db, "discord:bot", T0 + 2 * SECOND)
    assert reserve_slot(fresh_db, "discord:bot", 0.0, T0) == T0 + 5 * SECOND
    assert reserve_slot(fresh_db, "discord:bot", 0.02, T0) == T0 + 5 * SECOND
    assert reserve_slot(fresh_db, "discord:bot", 0.02, T0) == T0 + 5.02 * SECOND


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_racing_senders_never_share_a_slot(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    target = str(tmp_path / "pace.db") if engine == "sqlite" else request.getfixturevalue("pg_url")
    open_db(target).close()
    slots, errors, lock = [], [], threading.Lock()

    def sender() -> None:
        db = open_db(target, migrate=False)
        try:
            for _ in range(20):
                slot = reserve_slot(db, "discord:bot", 0.02, T0)
                with lock:
                    slots.append(slot)
        except BaseException as error:  # a thread's failure must fail the test
            errors.append(error)
        finally:
            db.close()

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(slots) == [T0 + n * timedelta(seconds=0.02) for n in range(60)]

"""The shared replay memory of signed chat requests, on both engines."""

from __future__ import annotations

import threading

from storage.db import open_db
from storage.seen_requests import count_seen, remember


def test_a_request_is_new_once_within_its_window(fresh_db) -> None:
    assert remember(fresh_db, "discord:1", expires_at=1300, now=1000) is True
    assert remember(fresh_db, "discord:1", expires_at=1400, now=1100) is False  # a replay
    assert remember(fresh_db, "slack:v0=ab", expires_at=1300, now=1100) is True
    assert remember(fresh_db, "discord:1", expires_at=1601, now=1301) is True  # out of window


def test_expired_keys_are_forgotten(fresh_db) -> None:
    for number in range(5):
        remember(fresh_db, f"discord:{number}", expires_at=1300 + number, now=1000)
    remember(fresh_db, "discord:new", expires_at=1700, now=1303)
    assert count_seen(fresh_db) == 3  # discord:3 (1303), discord:4 (1304) and the new one


def test_two_replicas_taking_one_request_at_once_let_one_run_it(pg_url: str) -> None:
    stores = [open_db(pg_url) for _ in range(4)]
    barrier, results = threading.Barrier(4), []

    def take(db) -> None:
        barrier.wait()
        results.append(remember(db, "discord:42", expires_at=1300, now=1000))

    threads = [threading.Thread(target=take, args=(db,)) for db in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(results) == [False, False, False, True]
    for db in stores:
        db.close()

"""Issue 12 item 2: the leader lease on a real PostgreSQL server (and SQLite's solo lease).

Each lease is a real `PostgresLease` on its own connection. A killed leader is played by the
server ending its session (`pg_terminate_backend`, what the server does when the client's
socket closes); a hung leader simply stops renewing, and the server's
`idle_in_transaction_session_timeout` must free the lock within the lease.
"""

from __future__ import annotations

import time

import psycopg

from storage.leader_lease import PostgresLease, SoloLease, lease_connection_options, lock_holder

LEASE = 1.0  # seconds: the shortest the setting allows


def wait_for_hold(lease: PostgresLease, within: float) -> float:
    """Try every 50 ms until `lease` is taken; return the seconds it took."""
    started = time.monotonic()
    while not lease.try_hold():
        assert time.monotonic() - started < within, "the lease was never freed"
        time.sleep(0.05)
    return time.monotonic() - started


def test_one_holder_at_a_time_and_renewal_keeps_it(pg_url: str) -> None:
    first, second = PostgresLease(pg_url, LEASE), PostgresLease(pg_url, LEASE)
    try:
        assert first.try_hold() and first.held()
        for _ in range(6):  # 1.5 lease of renewals: the server never ends the session
            time.sleep(LEASE / 4)
            assert first.try_hold()
            assert not second.try_hold() and not second.held()
        assert lock_holder(pg_url) is not None
    finally:
        first.release()
        second.release()


def test_released_lease_is_taken_at_the_next_try(pg_url: str) -> None:
    first, second = PostgresLease(pg_url, LEASE), PostgresLease(pg_url, LEASE)
    assert first.try_hold()
    first.release()
    assert not first.held()
    assert second.try_hold()
    second.release()


def test_a_dead_session_frees_the_lease_at_once(pg_url: str) -> None:
    first, second = PostgresLease(pg_url, 10.0), PostgresLease(pg_url, 10.0)
    assert first.try_hold()
    holder = lock_holder(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [holder])

    assert wait_for_hold(second, within=1.0) < 1.0  # not the 10 s lease
    assert not first.try_hold(), "the old leader must find out it lost the lease"
    assert not first.held()
    second.release()


def test_a_leader_that_stops_renewing_loses_the_lease_within_it(pg_url: str) -> None:
    hung, follower = PostgresLease(pg_url, LEASE), PostgresLease(pg_url, LEASE)
    assert hung.try_hold()
    took = wait_for_hold(follower, within=LEASE + 1.0)

    assert took <= LEASE + 0.5
    assert not hung.held(), "the fence: a lease older than itself is not trusted"
    assert not hung.try_hold(), "waking up, the old leader finds its session ended"
    follower.release()


def test_the_fence_drops_before_the_server_can_free_the_lock(pg_url: str) -> None:
    lease = PostgresLease(pg_url, LEASE)
    assert lease.try_hold()
    time.sleep(LEASE * 0.8)
    assert not lease.held()  # no job may start from here on, though the lock may remain
    lease.release()


def test_the_lease_connection_asks_the_server_to_end_a_silent_session() -> None:
    options = lease_connection_options(15.0)
    assert "idle_in_transaction_session_timeout=15000" in str(options["options"])
    assert options["autocommit"] is False and options["keepalives"] == 1


def test_an_unreachable_server_is_no_lease_and_no_exception() -> None:
    lease = PostgresLease("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", LEASE)
    assert not lease.try_hold()
    assert lease.error


def test_sqlite_has_one_replica_and_it_always_leads() -> None:
    lease = SoloLease()
    assert lease.try_hold() and lease.held()

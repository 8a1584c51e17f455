"""The leader lease: which of several replicas on one database runs the schedule.

On PostgreSQL the lease is a session advisory lock (`pg_try_advisory_lock`) taken on a
connection of its own, inside a transaction that stays open, with the session's
`idle_in_transaction_session_timeout` set to the lease. The holder renews by running a
statement in that transaction well within the lease, which resets the server's idle timer:

- a leader process that dies (SIGKILL, crash) closes its socket: the server ends the session
  at once and the lock is free; a follower takes it at its next try;
- a leader that hangs (SIGSTOP, swapped out, frozen VM) or whose machine or network is gone
  runs no statement: the server kills its session after the lease and frees the lock, whether
  or not TCP has noticed anything (TCP keepalives are set too, for the sockets);
- a leader whose session was killed finds out at its next renewal (the connection is broken)
  and, even before that, stops counting itself the leader once a lease has passed since its
  last successful renewal (`LeaderLease.held`, the fence the service checks before each job).

The transaction holds no snapshot between statements (READ COMMITTED, nothing written), so it
does not hold back VACUUM. On SQLite there is one replica and it always leads (`SoloLease`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import psycopg

from storage.urls import is_database_url

# pg_try_advisory_lock key: "lead". Migrations use another key ("rota").
LEADER_LOCK = 0x6C656164
# A leader stops trusting its lease this long before the server could have ended it.
FENCE_MARGIN = 0.25  # a fraction of the lease


class LeaderLease(Protocol):
    """Take or renew the lease (`try_hold`), ask whether it is still held, give it up."""

    def try_hold(self) -> bool:
        """Take the lease, or renew it when held; True while held. Never raises."""
        ...

    def held(self) -> bool:
        """True while the last renewal is recent enough that no one else can hold it."""
        ...

    def renew(self) -> bool:
        """Renew a lease already held (never takes a free one); True if still held."""
        ...

    def release(self) -> None:
        """Give the lease up (clean shutdown): a follower takes it at its next try."""
        ...


class SoloLease:
    """SQLite: a single replica, always the leader."""

    def try_hold(self) -> bool:
        return True

    def held(self) -> bool:
        return True

    def renew(self) -> bool:
        return True

    def release(self) -> None:
        """Nothing to give up."""


class PostgresLease:
    """The advisory-lock lease on a dedicated connection (see the module docstring)."""

    def __init__(
        self, url: str, seconds: float, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._url, self.seconds, self._monotonic = url, seconds, monotonic
        self._conn: psycopg.Connection | None = None
        self._renewed_at: float | None = None  # monotonic time of the last good renewal
        self.error = ""  # why the last try failed, for the log (never the URL's password)
        self.taken = 0  # how many times the lock was taken (not renewed): a lapse shows here
        self._lock = threading.Lock()  # the renewal loop and a job's fence may both renew

    def try_hold(self) -> bool:
        return self._guarded(self._try_hold)

    def renew(self) -> bool:
        return self._guarded(self._renew)

    def _guarded(self, attempt: Callable[[], bool]) -> bool:
        with self._lock:
            try:
                return attempt()
            except psycopg.Error as error:
                text = str(error).strip()
                self.error = text.splitlines()[0] if text else type(error).__name__
                self._drop()
                return False

    def _renew(self) -> bool:
        if self._renewed_at is None or self._conn is None:
            return False
        started = self._monotonic()
        self._conn.execute("SELECT 1")  # resets the server's idle-in-transaction timer
        self._renewed_at = started
        return True

    def _try_hold(self) -> bool:
        if self._renew():
            return True
        started = self._monotonic()
        conn = self._connection()
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", [LEADER_LOCK]).fetchone()
        if row and row[0]:
            self._renewed_at = started  # the transaction stays open from here on
            self.taken += 1
            return True
        conn.rollback()  # a follower does not sit idle in a transaction
        return False

    def held(self) -> bool:
        if self._renewed_at is None:
            return False
        return self._monotonic() - self._renewed_at < self.seconds * (1 - FENCE_MARGIN)

    def release(self) -> None:
        with self._lock:
            self._drop()

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._drop()
            self._conn = psycopg.connect(self._url, **lease_connection_options(self.seconds))
        return self._conn

    def _drop(self) -> None:
        # Closing the session frees the lock; a dead connection just gets forgotten.
        self._renewed_at = None
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                pass  # already gone: the server freed the lock with the session


def lease_connection_options(seconds: float) -> dict[str, object]:
    """libpq options for the lease's connection: idle timeout = lease, keepalives, timeouts."""
    lease_ms = max(int(seconds * 1000), 1000)
    keepalive = max(int(seconds / 3), 1)
    server = (
        f"-c idle_in_transaction_session_timeout={lease_ms}"
        f" -c tcp_keepalives_idle={keepalive} -c tcp_keepalives_interval={keepalive}"
        " -c tcp_keepalives_count=3"
        f" -c statement_timeout={lease_ms}"
        " -c application_name=rotation-bot-lease"
    )
    return {
        "autocommit": False,
        "connect_timeout": max(int(seconds), 2),
        "keepalives": 1,
        "keepalives_idle": keepalive,
        "keepalives_interval": keepalive,
        "keepalives_count": 3,
        "tcp_user_timeout": lease_ms,
        "options": server,
    }


def open_lease(target: object, seconds: float) -> LeaderLease:
    """The lease for the database at `target`: advisory lock on PostgreSQL, solo on SQLite."""
    if is_database_url(target):
        return PostgresLease(str(target), seconds)
    return SoloLease()


def lock_holder(conn_url: str) -> int | None:
    """The server pid of the session holding the leader lock, or None (for status and tests)."""
    with psycopg.connect(conn_url, autocommit=True, connect_timeout=10) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = 0 AND objid = %s AND objsubid = 1",
            [LEADER_LOCK],
        ).fetchone()
    return int(row[0]) if row else None

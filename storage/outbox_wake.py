"""Waking the senders of every replica when rows are queued (PostgreSQL LISTEN/NOTIFY).

`announce_queued` runs inside the enqueue's transaction: PostgreSQL delivers the NOTIFY only
if that transaction commits, so a woken sender always finds the rows. A notification can still
be lost (the listening connection dropped, the listener was busy reconnecting): the service's
polling stays the fallback, so a lost one costs at most one poll interval.

SQLite has one process per database file; its service wakes its own sender, so nothing here
applies to it.
"""

from __future__ import annotations

from storage.db import StorageError, Store

OUTBOX_CHANNEL = "rotation_outbox"
# Enqueues commit one at a time, so ids are handed out in commit order: a sender never sees
# row N+1 of a destination committed (and sends it) while row N is still uncommitted.
_ENQUEUE_LOCK = 0x6F757462  # "outb"


def announce_queued(db: Store) -> None:
    """Serialise this enqueue with the others and NOTIFY the senders when it commits.

    Called before each insert into the outbox inside the enqueue's transaction; both the lock
    and the notification are taken once per transaction by PostgreSQL however often it is called.
    """
    if db.engine == "postgresql":
        sql = "SELECT pg_advisory_xact_lock(?), pg_notify(?, '')"
        db.execute(sql, [_ENQUEUE_LOCK, OUTBOX_CHANNEL])


class OutboxListener:
    """A connection of its own that LISTENs for queued rows (PostgreSQL only)."""

    def __init__(self, url: str) -> None:
        import psycopg  # here: SQLite-only processes never load the PostgreSQL driver

        self._url, self._errors = url, psycopg.Error
        try:
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
            self.conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
        except psycopg.Error as error:
            raise _storage_error(error, url) from None

    def wait(self, timeout: float) -> bool:
        """True as soon as rows were announced, False after `timeout` seconds without any.

        Raises StorageError when the connection is lost (the caller reconnects).
        """
        try:
            return any(True for _ in self.conn.notifies(timeout=timeout, stop_after=1))
        except self._errors as error:
            raise _storage_error(error, self._url) from None

    def close(self) -> None:
        """Stop listening."""
        self.conn.close()


def _storage_error(error: Exception, url: str) -> StorageError:
    from storage.postgres import _without_password

    return StorageError(_without_password(str(error), url))

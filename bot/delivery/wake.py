"""Wake this replica's sender when any replica queues alerts (PostgreSQL LISTEN/NOTIFY).

Every enqueue on PostgreSQL NOTIFYs in its own transaction (`storage.outbox_wake`); here a
daemon thread LISTENs on a connection of its own and hands each notification to the service
loop, which runs a delivery pass at once instead of at the next poll. A notification lost
while the connection is down costs at most one poll interval: the service keeps polling, and
the listener reconnects after `retry_seconds`. SQLite has a single process, whose jobs run
the delivery pass right after they queue: nothing to listen to.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from storage.db import StorageError
from storage.outbox_wake import OutboxListener
from storage.urls import is_database_url

log = logging.getLogger(__name__)

WAIT_SECONDS = 1.0  # how often the listening thread looks at its stop flag
FIRST_RETRY = 0.25  # the first reconnection comes this soon, then twice as late each time


async def wake_on_queued(
    target: str | Path, wake: Callable[[], None], *, retry_seconds: float = 5.0
) -> None:
    """Call `wake()` on this loop whenever rows are queued, until cancelled (PostgreSQL only)."""
    if not is_database_url(target):
        return
    loop, stop = asyncio.get_running_loop(), threading.Event()

    def woken() -> None:
        loop.call_soon_threadsafe(wake)

    thread = threading.Thread(
        target=_listen, args=(str(target), woken, stop, retry_seconds), daemon=True,
        name="outbox-listener",
    )  # fmt: skip
    thread.start()
    try:
        await asyncio.Event().wait()  # until the service cancels its background tasks
    finally:
        stop.set()


def _listen(
    target: str, woken: Callable[[], None], stop: threading.Event, retry_seconds: float
) -> None:
    # Reconnects with backoff (a restarted server is found within a fraction of a second,
    # a stopped one is retried every `retry_seconds`), saying so once per outage.
    listener: OutboxListener | None = None
    failures = 0
    while not stop.is_set():
        try:
            if listener is None:
                listener = _connected(target, again=failures > 0)
                failures = 0
                woken()  # rows queued while nobody listened (start, reconnect) go out now
            if listener.wait(WAIT_SECONDS):
                woken()
        except Exception as error:  # this thread must outlive any error
            _tell_lost(error, failures, retry_seconds)
            _close(listener)
            listener = None
            failures += 1
            stop.wait(min(retry_seconds, FIRST_RETRY * 2 ** (failures - 1)))
    _close(listener)


def _tell_lost(error: Exception, failures: int, retry_seconds: float) -> None:
    if failures:
        log.debug("still not listening for queued alerts: %s", error)
    elif isinstance(error, StorageError):
        log.warning(
            "not listening for queued alerts (%s); polling meanwhile, retrying up to every %.0f s",
            error,
            retry_seconds,
        )
    else:
        log.exception("the outbox listener failed; polling meanwhile, retrying")


def _connected(target: str, *, again: bool) -> OutboxListener:
    listener = OutboxListener(target)
    if again:
        log.info("listening for queued alerts again")
    else:
        log.info("listening for queued alerts: other replicas wake this sender")
    return listener


def _close(listener: OutboxListener | None) -> None:
    if listener is not None:
        try:
            listener.close()
        except Exception:  # closing a broken connection: nothing left to release
            log.debug("closing the outbox listener failed", exc_info=True)

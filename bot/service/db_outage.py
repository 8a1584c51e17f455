"""One log line when the database goes away, one when it is back: never a traceback loop.

A PostgreSQL restart, stop or terminated session makes every job, poll and registry write of
a replica fail until the server is back (`storage.db.StorageError`). Each failure is retried
by the code that met it (the next job, poll or tick); this only keeps the log readable: the
first failure of an outage is a warning naming what failed and why, later ones are debug
lines, and the first success after it says how long the outage lasted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class OutageLog:
    """Tells of a database outage once when it starts and once when it ends."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self.since: float | None = None  # monotonic start of the outage in progress
        self.outages = 0

    def failed(self, what: str, error: BaseException) -> None:
        """`what` met the database unreachable (or its connection lost)."""
        if self.since is None:
            self.since = self._monotonic()
            self.outages += 1
            log.warning(
                "database unreachable (%s: %s); retrying until it is back", what, one_line(error)
            )
        else:
            log.debug("database still unreachable (%s: %s)", what, one_line(error))

    def succeeded(self) -> None:
        """A call reached the database: an outage in progress is over."""
        if self.since is not None:
            seconds = self._monotonic() - self.since
            self.since = None
            log.info("database reachable again after %.1f s", seconds)


def one_line(error: BaseException) -> str:
    """`Type: first line of the message`, for a log line without a traceback."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"

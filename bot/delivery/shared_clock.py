"""The clock a sender writes shared instants with: the database server's, run on monotonic time.

Claims, pacing slots and the age at which an alert is given up are instants several replicas
compare. A replica whose host clock runs hours ahead once marked most of a backlog dead after
an outage, and wrote claim leases hours into the future that blocked every other sender. So
a sender never reads its host's wall clock for them:

- PostgreSQL: the server's `now()` (`storage.stamps.server_now`), read again every
  `resync` seconds; between reads the instant advances on this process's monotonic clock,
  so one query serves a whole pass.
- SQLite (one host): the host clock read once, when the process starts sending, then
  advanced on the monotonic clock: a jump of the wall clock forward or back while the
  service runs moves no claim and ages no alert; a restart takes the new time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from storage.db import Store
from storage.stamps import server_now

log = logging.getLogger(__name__)

RESYNC_SECONDS = 60.0


class SharedClock:
    """`now()`: the shared instant (see the module docstring); `sync(db)` before a pass."""

    def __init__(
        self,
        *,
        resync: float = RESYNC_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        source: Callable[[Store], datetime] = server_now,
    ) -> None:
        self._resync, self._monotonic, self._source = resync, monotonic, source
        self._base: datetime | None = None
        self._at = 0.0  # monotonic time of the base

    @classmethod
    def synced(cls, db: Store) -> SharedClock:
        """A clock read from `db` now: for a one-off pass (`check --deliver`)."""
        clock = cls()
        clock.sync(db)
        return clock

    def sync(self, db: Store) -> None:
        """Read the database's clock when due (PostgreSQL every `resync` s; SQLite once)."""
        if self._base is not None:
            if db.engine != "postgresql" or self._monotonic() - self._at < self._resync:
                return
        self._base, self._at = self._source(db), self._monotonic()

    def now(self) -> datetime:
        """The shared instant: the last reading advanced by the monotonic time since."""
        if self._base is None:
            raise RuntimeError("SharedClock.now() before sync()")
        return self._base + timedelta(seconds=self._monotonic() - self._at)

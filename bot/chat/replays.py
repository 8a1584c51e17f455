"""Replay memory shared through the database: every replica refuses a request any one has seen.

Both HTTP doors (Discord interactions, Slack HTTP mode) ask `SharedReplays.seen_before` once a
request's signature checks out. The in-process memories of the doors stay in front of it
(one process never asks the database twice about one request); this one covers a restart and
the other replicas (`storage.seen_requests`). If the database cannot answer, the request is
refused (503, one log line): running a command twice is worse than asking to try again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

from bot.service.web import Rejected
from storage import seen_requests
from storage.db import Store, open_shared

log = logging.getLogger(__name__)


class SharedReplays:
    """Request keys seen by any replica within their window, kept in the shared database."""

    def __init__(self, target: str | Path) -> None:
        self._target = target
        self._db: Store | None = None
        self._lock = threading.Lock()

    async def seen_before(self, key: str, expires_at: float, now: float) -> bool:
        """True if any replica saw `key` in its window; otherwise remember it (Rejected(503)
        when the database cannot say)."""
        try:
            return await asyncio.to_thread(self._seen_before, key, expires_at, now)
        except Exception as error:  # a dropped connection, a stopped server
            log.warning("replay check unavailable (%s: %s)", type(error).__name__, error)
            raise Rejected(503, "replay check unavailable; try again") from None

    def _seen_before(self, key: str, expires_at: float, now: float) -> bool:
        with self._lock:
            if self._db is None:
                self._db = open_shared(self._target)
            try:
                return not seen_requests.remember(self._db, key, expires_at, now)
            except Exception:
                self._close()  # reopened by the next request
                raise

    def close(self) -> None:
        """Close the connection (reopened if asked again)."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            try:
                db.close()
            except Exception:  # already broken; nothing to release
                log.debug("closing the replay memory's connection failed", exc_info=True)

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
from collections.abc import Callable

from bot.service.web import Rejected
from storage import seen_requests
from storage.db import Store

log = logging.getLogger(__name__)


class SharedReplays:
    """Request keys seen by any replica within their window, kept in the shared database.

    Args:
        connect: the calling thread's connection (the command core's `db`, one per thread).
    """

    def __init__(self, connect: Callable[[], Store]) -> None:
        self._connect = connect

    async def seen_before(self, key: str, expires_at: float, now: float) -> bool:
        """True if any replica saw `key` in its window; otherwise remember it (Rejected(503)
        when the database cannot say)."""
        try:
            return await asyncio.to_thread(self._seen_before, key, expires_at, now)
        except Exception as error:  # a dropped connection, a stopped server
            log.warning("replay check unavailable (%s: %s)", type(error).__name__, error)
            raise Rejected(503, "replay check unavailable; try again") from None

    def _seen_before(self, key: str, expires_at: float, now: float) -> bool:
        return not seen_requests.remember(self._connect(), key, expires_at, now)

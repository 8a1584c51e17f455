"""Pacing posts together with every other sender on the database (every replica).

Each post counts against its destination's bucket (`min_interval`, Slack's one a second per
channel) and, for notifiers that name one, the bot token's (`pacing_bucket`, Discord's global
50 a second). The slots live in the database (`storage.pacing`), so three replicas post no
faster than one would; a notifier that can see a global back-off (`watch_global_limit`) holds
its token's bucket, and every replica waits it out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from bot.delivery.message import Notifier
from storage.db import Store
from storage.pacing import hold, reserve_slot

log = logging.getLogger(__name__)


class SharedPacing:
    """Waits for each post's slot in the buckets it counts against."""

    def __init__(
        self, db: Store, now: Callable[[], datetime], sleep: Callable[[float], None]
    ) -> None:
        self.db, self.now, self.sleep = db, now, sleep

    def watch(self, notifiers: Iterable[Notifier]) -> None:
        """Let each notifier's global back-off hold its token's bucket for all replicas."""
        for notifier in notifiers:
            watch = getattr(notifier, "watch_global_limit", None)
            bucket = getattr(notifier, "pacing_bucket", None)
            if watch is not None and bucket:
                watch(self._holder(bucket))

    def _holder(self, bucket: str) -> Callable[[float], None]:
        def held(seconds: float) -> None:
            log.warning("global rate limit on %s: every replica waits %.2f s", bucket, seconds)
            hold(self.db, bucket, self.now() + timedelta(seconds=seconds))

        return held

    def wait_turn(self, notifier: Notifier, deadline: datetime) -> datetime | None:
        """Sleep until the post may go out; None once it may, or the slot if after `deadline`."""
        for bucket, interval in buckets(notifier):
            slot = reserve_slot(self.db, bucket, interval, self.now())
            if slot >= deadline:
                return slot
            wait = (slot - self.now()).total_seconds()
            if wait > 0:
                self.sleep(wait)
        return None


def buckets(notifier: Notifier) -> list[tuple[str, float]]:
    """The pacing buckets a post counts against: its destination, and the bot token's, if any."""
    found = [(notifier.name, getattr(notifier, "min_interval", 0.0))]
    shared = getattr(notifier, "pacing_bucket", None)
    if shared:
        found.append((shared, getattr(notifier, "pacing_interval", 0.0)))
    return found

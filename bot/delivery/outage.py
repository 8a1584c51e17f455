"""Outages pause a destination instead of draining its queue.

When a destination fails with a retryable error (5xx, timeout, connection refused), the
destination, not the row, is paused: one probe at a time goes out, with exponential backoff
that belongs to the destination (capped at `PROBE_MAX_SECONDS` so a recovery is noticed
within a minute), and the rows behind the probe wait without spending attempts. The pause is
stored in SQLite, so it survives between delivery passes and restarts. Rows give up by age
(`DELIVERY_MAX_AGE_HOURS`), not by attempts spent during an outage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from storage.db import Store
from storage.outbox_health import (
    ExpiredRow,
    clear_pause,
    count_open,
    destination_pauses,
    expire_rows,
    head_due_times,
    record_failure,
)

log = logging.getLogger(__name__)

PROBE_MAX_SECONDS = 60.0


class DestinationHealth:
    """Which destinations are failing, and when each may be probed next."""

    def __init__(self, db: Store, backoff: Callable[[int], float]) -> None:
        """`backoff(n)` is the delay after the n-th failure in a row (capped here)."""
        self.db, self.backoff = db, backoff

    def paused(self, destination: str, now: datetime) -> bool:
        """True while `destination` is failing and its next probe is not yet due."""
        pause = destination_pauses(self.db).get(destination)
        return pause is not None and pause.probe_at > now

    def failed(self, destination: str, reason: str, now: datetime) -> datetime:
        """Count a failed probe; return when the next single probe may go out."""
        known = destination_pauses(self.db).get(destination)
        failures = (known.failures if known else 0) + 1
        delay = min(self.backoff(failures), PROBE_MAX_SECONDS)
        probe_at = now + timedelta(seconds=delay)
        record_failure(self.db, destination, reason, probe_at=probe_at, now=now)
        if known is None:
            waiting = count_open(self.db, destination)
            log.warning(
                "%s is failing (%s): pausing its %d queued alert(s), one probe at a time",
                destination,
                reason,
                waiting,
            )
        return probe_at

    def answered(self, destination: str, now: datetime) -> None:
        """The destination answered (accepted, or refused for good): its outage is over."""
        pause = clear_pause(self.db, destination)
        if pause is not None:
            seconds = (now - pause.failing_since).total_seconds()
            log.warning(
                "%s answers again after %d failed probe(s) over %.0f s; resuming its queue",
                destination,
                pause.failures,
                seconds,
            )

    def next_due(self, destinations: Iterable[str]) -> datetime | None:
        """The earliest instant any of `destinations` has a row it may send."""
        pauses = destination_pauses(self.db)
        heads = head_due_times(self.db, destinations)
        times = [
            max(due, pauses[name].probe_at) if name in pauses else due
            for name, due in heads.items()
        ]
        return min(times, default=None)


def expire_old_rows(
    db: Store, destinations: Iterable[str], max_age_hours: float, now: datetime
) -> list[ExpiredRow]:
    """Give up on rows queued longer than `max_age_hours` ago; each is logged with its reason."""
    why = f"not delivered within {max_age_hours:g} h"
    older_than = now - timedelta(hours=max_age_hours)
    expired = expire_rows(db, destinations, older_than=older_than, now=now, why=why)
    for row in expired:
        log.error(
            "alert %s to %s is dead: %s (last error: %s)",
            row.dedupe_key,
            row.destination,
            why,
            row.last_error or "none",
        )
    return expired

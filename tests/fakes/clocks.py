"""Clocks for service tests and test replicas."""

from __future__ import annotations

from datetime import datetime


class FrozenClock:
    """Live-mode clock stuck at one instant; the next slot is always an hour of real time away.

    The catch-up runs (it reads `now`), no planned slot comes due during a test.
    """

    simulated = False

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def seconds_until(self, at: datetime) -> float:
        return 3600.0

    def advance_to(self, at: datetime) -> None:
        pass

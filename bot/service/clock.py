"""Clocks the service runs on: the real one, and a simulated one for replay and tests.

The service never calls `datetime.now` itself. It asks its clock what time it is, how many
real seconds to wait before a planned instant, and (simulated clocks only) to jump to the
instant a job was planned for, so every job sees the time it was planned for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What the service needs from time."""

    simulated: bool

    def now(self) -> datetime:
        """The current instant, aware UTC."""
        ...

    def seconds_until(self, at: datetime) -> float:
        """Real seconds to wait before the clock reads `at` (0 when it already does)."""
        ...

    def advance_to(self, at: datetime) -> None:
        """Make the clock read at least `at` (a no-op for the real clock)."""
        ...


class RealClock:
    """Wall-clock time."""

    simulated = False

    def now(self) -> datetime:
        """The current instant, aware UTC."""
        return datetime.now(UTC)

    def seconds_until(self, at: datetime) -> float:
        """Seconds from now until `at`, never negative."""
        return max(0.0, (at - self.now()).total_seconds())

    def advance_to(self, at: datetime) -> None:
        """Real time cannot be moved; the scheduler simply fired at (or after) `at`."""


class SimulatedClock:
    """Simulated time starting at `start`, running `speed` simulated seconds per real second.

    `speed=0` means as fast as possible: time stands still between jobs and jumps straight
    to the next planned instant, so a replay takes only as long as its jobs.
    """

    simulated = True

    def __init__(
        self, start: datetime, speed: float = 0.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be 0 (as fast as possible) or positive")
        self.speed = speed
        self._monotonic = monotonic
        self._anchor_sim = start
        self._anchor_real = monotonic()

    def now(self) -> datetime:
        """The simulated instant, aware UTC."""
        if self.speed == 0:
            return self._anchor_sim
        elapsed = (self._monotonic() - self._anchor_real) * self.speed
        return self._anchor_sim + timedelta(seconds=elapsed)

    def seconds_until(self, at: datetime) -> float:
        """Real seconds until the simulated clock reads `at`; 0 at speed 0."""
        if self.speed == 0:
            return 0.0
        return max(0.0, (at - self.now()).total_seconds() / self.speed)

    def advance_to(self, at: datetime) -> None:
        """Jump forward to `at` (never backwards), re-anchoring the simulated time there."""
        if at > self.now():
            self.reset(at)

    def reset(self, at: datetime) -> None:
        """Set the simulated time to `at`, forwards or backwards (the start of a replay)."""
        self._anchor_sim = at
        self._anchor_real = self._monotonic()

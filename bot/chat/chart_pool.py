"""Charted commands (`/spread`, `/signal`) run in a small pool of their own, a few per user.

Drawing a chart is CPU work (matplotlib) of about a tenth of a second to a second. Run in
asyncio's default executor, 200 of them queued every other thread job behind them (the
database answers of other commands, `/healthz`, delivery) and, holding the GIL in six threads
at once, starved the event loop: acks and `/metrics` took tens of seconds. Here charted work
runs in `workers` threads (one fewer than the CPUs: the event loop keeps one), and a user with
`per_user` charted commands under way is told at once, in one line, when to try again.
Process-wide: both chat platforms share the CPUs.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from bot.chat.parsing import CommandError

T = TypeVar("T")

CHARTED_COMMANDS = frozenset({"spread", "signal"})


class Busy(CommandError):
    """The user already has `per_user` charted commands under way."""

    def __init__(self, seconds: int) -> None:
        super().__init__(f"Busy drawing your other charts: try again in {seconds} s.")
        self.seconds = seconds


class ChartPool:
    """A bounded thread pool for charted work, with a per-user limit."""

    def __init__(self, workers: int | None = None, per_user: int = 2) -> None:
        self.workers = workers or max(1, (os.cpu_count() or 2) - 1)
        self.per_user = per_user
        self.executor = ThreadPoolExecutor(self.workers, thread_name_prefix="chart")
        self.in_flight: Counter[str] = Counter()
        self.seconds_each = 0.5  # a running average of one job's time
        self._lock = threading.Lock()

    def enter(self, user: str) -> None:
        """Count one charted command of `user`; Busy when they have `per_user` under way."""
        with self._lock:
            if self.in_flight[user] >= self.per_user:
                raise Busy(self.wait_estimate())
            self.in_flight[user] += 1

    def leave(self, user: str) -> None:
        """One charted command of `user` finished (answered, failed or refused)."""
        with self._lock:
            self.in_flight[user] -= 1
            if self.in_flight[user] <= 0:
                del self.in_flight[user]

    def wait_estimate(self) -> int:
        """Seconds until the work queued now is likely done (at least 1)."""
        queued = sum(self.in_flight.values())
        return max(1, math.ceil(queued * self.seconds_each / self.workers))

    async def run(self, work: Callable[[], T]) -> T:
        """`work()` in the pool, timed for the estimate."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self._timed, work)

    async def run_for(self, user: str, work: Callable[[], T]) -> T:
        """`work()` in the pool as one of `user`'s charted commands (Busy beyond the limit)."""
        self.enter(user)
        try:
            return await self.run(work)
        finally:
            self.leave(user)

    def _timed(self, work: Callable[[], T]) -> T:
        started = time.monotonic()
        try:
            return work()
        finally:
            took = time.monotonic() - started
            self.seconds_each = 0.8 * self.seconds_each + 0.2 * took


_POOL: list[ChartPool] = []


def chart_pool() -> ChartPool:
    """The process's pool (made on first use with the defaults unless `configure` came first)."""
    if not _POOL:
        _POOL.append(ChartPool())
    return _POOL[0]


def configure_charts(workers: int | None, per_user: int) -> ChartPool:
    """Replace the process's pool (at start-up, from the settings)."""
    if _POOL:
        _POOL.pop().executor.shutdown(wait=False)
    _POOL.append(ChartPool(workers, per_user))
    return _POOL[0]

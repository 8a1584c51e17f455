"""The service's single worker: runs queued jobs one at a time, in order, and records them.

The scheduler only decides *when*; it hands `WorkItem`s to this worker and returns at once.
One worker means jobs never overlap (one SQLite writer, one pass over the outbox at a time),
a slow refresh delays the next job instead of racing it, and on shutdown there is exactly
one job in flight to let finish.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal, Protocol

from bot.service.clock import Clock
from bot.service.db_outage import OutageLog, one_line
from bot.service.fetch_outage import StaleEvaluation
from bot.sources.base import FetchInterrupted
from storage import service_state
from storage.db import StorageError, Store, open_shared

log = logging.getLogger(__name__)

# A delivery pass cut off by the database is tried again this soon (doubling up to the cap)
# instead of at the next poll, up to 30 s away: rows it left go out once the server is back.
RETRY_FIRST, RETRY_CAP = 0.5, 8.0

WorkKind = Literal["intraday", "evaluate", "snapshot", "digest", "deliver"]


class Jobs(Protocol):
    """The work the service schedules; implementations do blocking work off the event loop."""

    async def refresh_intraday(self, now: datetime) -> None:
        """Fetch provisional bars during the session; only intraday rules may fire on them."""
        ...

    async def evaluate_session(self, session: date, now: datetime, *, alert: bool) -> int:
        """Final evaluation of `session`; return new events (queued as alerts when `alert`)."""
        ...

    async def snapshot_after_close(self, session: date, now: datetime) -> None:
        """Store the after-close valuation (P/E) snapshot and refresh FRED series."""
        ...

    async def send_digest(self, session: date, now: datetime) -> None:
        """Post the daily digest for `session`."""
        ...

    async def deliver(self) -> Mapping[str, int]:
        """One pass over the outbox; return counts by outcome (delivered, retry, dead)."""
        ...

    def stop(self) -> None:
        """Shutting down: cut the job in flight short where that is safe (between sends)."""
        ...

    def due_retry(self, now: datetime) -> date | None:
        """A session whose evaluation should run again now (its refresh failed), or None."""
        ...


@dataclass(frozen=True)
class WorkItem:
    """One job to run: `at` is the instant it was planned for (simulated during replay)."""

    kind: WorkKind
    at: datetime
    session: date | None = None
    alert: bool = True
    origin: str = "plan"  # plan | catchup | poll

    def describe(self) -> str:
        """`kind session (origin)`, for logs."""
        session = f" {self.session}" if self.session else ""
        return f"{self.kind}{session} ({self.origin})"


class JobObserver(Protocol):
    """Told about every finished job (the metrics implement it)."""

    def job_finished(self, item: WorkItem, outcome: str, seconds: float, result: object) -> None:
        """Called once per job with its outcome and what the job returned."""
        ...


def connect_shared(path: Path) -> Store:
    """A connection usable from worker threads; callers serialise access with a lock."""
    return open_shared(path)


class StateStore:
    """Thread-safe access to the service tables, from the loop through `asyncio.to_thread`."""

    def __init__(self, db: Store) -> None:
        self._db = db
        self._lock = threading.Lock()

    async def record(self, run: dict[str, object]) -> None:
        """Store one finished run."""
        await asyncio.to_thread(self._locked, service_state.record_run, run)

    async def set_state(self, values: dict[str, str], at: datetime) -> None:
        """Upsert heartbeat keys."""
        await asyncio.to_thread(self._locked, service_state.set_state, values, at)

    async def last_evaluated_session(self) -> date | None:
        """The latest session evaluated `ok`."""
        return await asyncio.to_thread(self._locked, service_state.last_evaluated_session)

    async def last_evaluation(self) -> dict[str, object] | None:
        """The latest evaluation run, whatever its outcome."""
        return await asyncio.to_thread(self._locked, service_state.last_run, "evaluate", None)

    async def last_digest_session(self) -> date | None:
        """The latest session whose digest finished `ok`."""
        return await asyncio.to_thread(self._locked, service_state.last_session_done, "digest")

    def _locked(self, function: Callable[..., object], *args: object) -> object:
        with self._lock:
            return function(self._db, *args)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()


class Worker:
    """Runs submitted items one by one; `close()` drops the queue and lets the current finish."""

    def __init__(
        self,
        jobs: Jobs,
        clock: Clock,
        state: StateStore,
        observer: JobObserver | None = None,
        redact: Callable[[str], str] = str,
        outage: OutageLog | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._jobs, self._clock, self._state = jobs, clock, state
        self._observer, self._redact = observer, redact
        self.outage = outage or OutageLog(monotonic)
        self._monotonic = monotonic
        # The leader's watchdog reads these (`stalled`): since when every job has failed,
        # and since when the job in flight has run.
        self._failing_since: float | None = None
        self._failure = ""
        self._started_at = 0.0
        self._failed_passes = 0
        self._queue: deque[WorkItem] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self.current: WorkItem | None = None

    def submit(self, items: Iterable[WorkItem]) -> None:
        """Queue items in order; a delivery pass already queued is not queued twice."""
        for item in items:
            if self._closing:
                log.warning("not starting %s: shutting down", item.describe())
                continue
            if item.kind == "deliver" and any(q.kind == "deliver" for q in self._queue):
                continue
            self._queue.append(item)
        if self._queue:
            self._idle.clear()
            self._wake.set()

    def close(self) -> None:
        """Take no more work; queued items are dropped (the plan or catch-up redoes them)."""
        self._closing = True
        if self._queue:
            names = ", ".join(item.describe() for item in self._queue)
            log.info("dropping %d queued job(s) at shutdown: %s", len(self._queue), names)
            self._queue.clear()
        if self.current is not None:
            log.info("letting %s finish before exiting", self.current.describe())
        self._jobs.stop()
        self._wake.set()

    async def wait_idle(self) -> None:
        """Return once the queue is empty and no job is running."""
        await self._idle.wait()

    def stalled(self) -> tuple[float, str]:
        """(seconds, why) this worker has not been able to work; (0, "") while it works.

        Failing: every job since then failed. Stuck: a leader job in flight that long (a
        delivery pass is not counted: a long backlog legitimately takes long, and each of its
        posts is bounded by the request timeout).
        """
        now = self._monotonic()
        if self._failing_since is not None:
            return now - self._failing_since, f"every job failing: {self._failure}"
        item = self.current
        if item is not None and item.kind != "deliver":
            return now - self._started_at, f"{item.describe()} still running"
        return 0.0, ""

    async def run(self) -> None:
        """Process the queue until closed."""
        while True:
            if not self._queue:
                self._idle.set()
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            item = self._queue.popleft()
            if self._superseded(item):
                log.info("skipping %s: a newer intraday refresh is queued", item.describe())
                continue
            self.current, self._started_at = item, self._monotonic()
            try:
                await self._execute(item)
            except Exception:  # a bug in the bookkeeping must not end the worker
                log.exception("recording %s failed", item.describe())
            finally:
                self.current = None

    def _superseded(self, item: WorkItem) -> bool:
        # Refreshes that piled up behind a slow job are worth only the latest one.
        return item.kind == "intraday" and any(q.kind == "intraday" for q in self._queue)

    async def _execute(self, item: WorkItem) -> None:
        started, began = self._clock.now(), time.monotonic()
        outcome, detail, result = "ok", "", None
        try:
            result = await self._dispatch(item)
            detail = "" if result is None else str(result)
        except FetchInterrupted as error:  # the shutdown cut it short; the next start redoes it
            outcome, detail = "interrupted", str(error)
            log.info("%s cut short: %s", item.describe(), error)
        except StaleEvaluation as error:  # nothing evaluated: never recorded as ok
            outcome, detail = "stale", str(error)
            log.info("%s stale (tried again later): %s", item.describe(), error)
        except StorageError as error:  # the database is away: one line per outage, no traceback
            outcome, detail = "error", self._redact(one_line(error))
            self.outage.failed(f"{item.describe()} failed", error)
            if item.kind == "deliver":
                self._retry_delivery_soon()
        except Exception as error:
            outcome, detail = "error", self._redact(f"{type(error).__name__}: {error}")
            log.exception("%s failed", item.describe())
        seconds = time.monotonic() - began
        self._note_outcome(outcome, detail)
        if self._observer is not None:
            self._observer.job_finished(item, outcome, seconds, result)
        if item.kind != "deliver" or outcome != "ok" or _did_something(result):
            await self._record(_run_row(item, started, self._clock.now(), outcome, detail))
        if outcome == "ok":
            # Routine refreshes and empty outbox passes would drown the evaluations in the log.
            level = logging.INFO if _worth_telling(item, result) else logging.DEBUG
            log.log(level, "%s done in %.2fs: %s", item.describe(), seconds, detail or "ok")

    def _note_outcome(self, outcome: str, detail: str) -> None:
        if outcome == "error":
            if self._failing_since is None:
                self._failing_since = self._monotonic()
            self._failure = detail
            return
        self._failing_since, self._failure, self._failed_passes = None, "", 0
        self.outage.succeeded()

    def _retry_delivery_soon(self) -> None:
        delay = min(RETRY_CAP, RETRY_FIRST * 2**self._failed_passes)
        self._failed_passes += 1
        again = [WorkItem("deliver", self._clock.now(), origin="retry")]
        asyncio.get_running_loop().call_later(delay, self._retry, again)

    def _retry(self, items: list[WorkItem]) -> None:
        if not self._closing:  # a retry due after the shutdown began is simply dropped
            self.submit(items)

    async def _record(self, run: dict[str, object]) -> None:
        # The run history shares the database with the job: when the job failed because the
        # server went away, this write fails too. The job's outcome is already logged.
        try:
            await self._state.record(run)
        except StorageError as error:
            self.outage.failed(f"recording {run['job']} {run['outcome']}", error)

    async def _dispatch(self, item: WorkItem) -> object:
        jobs = self._jobs
        if item.kind == "intraday":
            return await jobs.refresh_intraday(item.at)
        if item.kind == "deliver":
            return await jobs.deliver()
        assert item.session is not None, item
        if item.kind == "evaluate":
            return await jobs.evaluate_session(item.session, item.at, alert=item.alert)
        if item.kind == "snapshot":
            return await jobs.snapshot_after_close(item.session, item.at)
        return await jobs.send_digest(item.session, item.at)


def _did_something(result: object) -> bool:
    return isinstance(result, Mapping) and any(result.values())


def _worth_telling(item: WorkItem, result: object) -> bool:
    if item.kind == "deliver":
        return _did_something(result)
    # What a replay or a digest-less run skips on purpose is not news: one line per session.
    return not str(result).startswith(("replay", "digests off"))


def _run_row(
    item: WorkItem, started: datetime, finished: datetime, outcome: str, detail: str
) -> dict[str, object]:
    return {
        "job": item.kind,
        "session": item.session,
        "planned_at": item.at,
        "started_at": started,
        "finished_at": finished,
        "outcome": outcome,
        "detail": detail,
    }

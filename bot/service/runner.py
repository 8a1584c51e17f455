"""The run loop: APScheduler on one asyncio loop, the NYSE plan, catch-up, replay, shutdown.

This is the only module that imports apscheduler. The scheduler decides *when* (from the
pure plan in `bot/service/schedule.py`); the `Worker` decides *how*, one job at a time. Each planned
instant ("slot") is one date-triggered APScheduler job; when it fires it queues every job
due since the previous slot and schedules the next slot. Chaining date triggers, instead of
a cron-like trigger per kind, keeps one code path for the real clock and for replay: the
clock converts the next planned instant into a real delay (0 when replaying as fast as
possible), and a cursor guarantees a job is queued exactly once however late a slot fires.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable, Coroutine, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot import calendar
from bot.config import Settings
from bot.service import schedule, tasks
from bot.service.clock import Clock, RealClock, SimulatedClock
from bot.service.db_outage import one_line
from bot.service.fetch_outage import stale_notice
from bot.service.leader import FencedJobs, Leadership
from bot.service.work_plan import catchup_items, missed_digests, planned_items
from bot.service.worker import (
    JobObserver,
    Jobs,
    StateStore,
    Worker,
    WorkItem,
    connect_shared,
)
from storage.db import StorageError, open_db

__all__ = ["Jobs", "Service", "WorkItem", "catchup_items", "missed_digests", "planned_items"]

log = logging.getLogger(__name__)

# How often the live service retries the outbox and writes its heartbeat.
POLL_SECONDS = 30.0


class Service:
    """One asyncio loop hosting the scheduler, the worker and optional chat adapters.

    Args:
        extra_tasks: coroutines run alongside (Discord client, Slack app), cancelled at stop.
        replay: (first, last) session dates: run the plan of that span on `clock`, then stop.
    """

    def __init__(
        self,
        settings: Settings,
        jobs: Jobs,
        *,
        db_path: Path,
        clock: Clock | None = None,
        extra_tasks: Iterable[Coroutine[Any, Any, None]] = (),
        replay: tuple[date, date] | None = None,
        observer: JobObserver | None = None,
        redact: Callable[[str], str] = str,
        install_signals: bool = True,
        leadership: Leadership | None = None,
    ) -> None:
        self.settings, self.jobs, self.db_path = settings, jobs, db_path
        self.clock: Clock = clock or RealClock()
        self._extra = list(extra_tasks)
        self.replay = replay
        self._observer, self._redact = observer, redact
        self._install_signals = install_signals
        self.ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._cursor = self.clock.now()
        self._until: datetime | None = None
        self.worker: Worker | None = None
        self.leadership = leadership
        self._leader_task: asyncio.Task[None] | None = None
        self.exit_code = 0

    def request_stop(self, reason: str = "stop requested") -> None:
        """Stop taking work; the job in flight finishes, then `run` returns 0."""
        if not self._stop.is_set():
            log.info("shutting down: %s", reason)
            self._stop.set()

    async def run(self) -> int:
        """Migrate, catch up, run the plan until stopped (or the replay ends); return 0.

        2: no database at start (see `tasks`); 1: a supervised task ended on its own.
        """
        self._add_signal_handlers()  # first: a signal during the start-up stops it cleanly too
        try:
            await asyncio.to_thread(_migrate, self.db_path)
            state = StateStore(await asyncio.to_thread(connect_shared, self.db_path))
        except StorageError as error:
            return tasks.unreachable_at_start(error)
        jobs = self.jobs if self.replay else FencedJobs(self.jobs, self._confirm_leader)
        self.worker = Worker(jobs, self.clock, state, self._observer, self._redact)  # type: ignore[arg-type]
        worker_task = tasks.supervised(self.worker.run(), "worker", self._task_ended)
        extra = [asyncio.create_task(tasks.guarded(coro)) for coro in self._extra]
        try:
            if not self._stop.is_set():
                await self._start(state)
            self.ready.set()
            await self._stop.wait()
        except StorageError as error:
            self.exit_code = tasks.unreachable_at_start(error)
        finally:
            await self._shutdown(worker_task, extra, state)
        return self.exit_code

    def _task_ended(self, reason: str) -> None:
        if not self._stop.is_set():
            self.exit_code = tasks.TASK_DIED  # a half-alive replica (a zombie) is worse than none
            self.request_stop(reason)

    async def _start(self, state: StateStore) -> None:
        mode = "replay" if self.replay else "live"
        self._cursor = self.clock.now()  # jobs due before the start are the catch-up's
        started = _iso(self.clock.now())
        await state.set_state(
            {"pid": str(os.getpid()), "mode": mode, "started_at": started, "heartbeat": started},
            datetime.now(UTC),
        )
        if self.replay:
            self._cursor, self._until = schedule.replay_window(*self.replay)
            if not isinstance(self.clock, SimulatedClock):
                raise TypeError("replay runs on a SimulatedClock")
            self.clock.reset(self._cursor)
            log.info("replaying sessions %s to %s", *self.replay)
        else:
            await self._start_leadership(state)
            self._add_poll(state)
        self._scheduler.start()
        self._chain_next()

    def is_leader(self) -> bool:
        """True while this replica runs the schedule (always on SQLite, and in a replay)."""
        return self.replay is not None or (
            self.leadership is not None and self.leadership.is_leader()
        )

    async def _confirm_leader(self) -> bool:
        return self.leadership is not None and await self.leadership.confirm()

    async def _start_leadership(self, state: StateStore) -> None:
        # The first attempt comes before the first slot: a sole replica (SQLite) catches up
        # before anything else, as it always has; on PostgreSQL a follower waits its turn.
        if self.leadership is None:
            seconds = self.settings.leader_lease_seconds
            self.leadership = Leadership.for_database(self.db_path, seconds)
        self.leadership.on_elected = lambda: self._catch_up(state)
        self.leadership.stalled = self.worker.stalled  # type: ignore[union-attr]
        self.leadership.outage = self.worker.outage  # type: ignore[union-attr]
        self.leadership.watchdog = self.settings.leader_watchdog_seconds
        if await self.leadership.start():
            await self.leadership.elected()
        else:
            log.info("another replica leads: this one sends alerts and waits for the lease")
        self._leader_task = tasks.supervised(self.leadership.run(), "leadership", self._task_ended)

    async def _catch_up(self, state: StateStore) -> None:
        """Evaluations (and a digest) missed since the last that finished (each new leader)."""
        self._cursor = max(self._cursor, self.clock.now())  # jobs due before are the catch-up's
        notice = stale_notice(await state.last_evaluation(), self.settings.fetch_retry_minutes)
        if notice:  # said once per start or election; the catch-up below runs it again
            log.warning("%s", notice)
        last = await state.last_evaluated_session()
        last_digest = await state.last_digest_session()
        catchup = catchup_items(last, self.clock.now(), self.settings, last_digest)
        if catchup:
            since = f"since {last}" if last else "(first start: the latest session only)"
            evaluations = sum(1 for item in catchup if item.kind == "evaluate")
            digests = [str(item.session) for item in catchup if item.kind == "digest"]
            missed = f"; the digest of {', '.join(digests)}" if digests else ""
            log.info("catching up %d evaluation(s) missed %s%s", evaluations, since, missed)
        self.worker.submit(catchup)  # type: ignore[union-attr]

    def _add_poll(self, state: StateStore) -> None:
        # Outbox retries and heartbeat. The poll also wakes the scheduler every 30 s, which
        # bounds how late a slot fires after a host suspend (asyncio timers run on the
        # monotonic clock, which stops while suspended).
        # misfire_grace_time = one period: a poll that could not run on time (loop blocked,
        # host suspended) is simply dropped, the next one does the same work;
        # coalesce=True turns a backlog of missed polls into one, not a burst;
        # max_instances=1 because two passes over the outbox must never overlap.
        self._scheduler.add_job(
            self._on_poll,
            IntervalTrigger(seconds=POLL_SECONDS),
            args=[state],
            id="poll",
            misfire_grace_time=int(POLL_SECONDS),
            coalesce=True,
            max_instances=1,
        )

    async def _on_poll(self, state: StateStore) -> None:
        with self._cut_short_by_stop("poll"):
            if self.is_leader():
                self._submit_due_retry()
            self.worker.submit([WorkItem("deliver", self.clock.now(), origin="poll")])  # type: ignore[union-attr]
            try:
                await state.set_state({"heartbeat": _iso(self.clock.now())}, datetime.now(UTC))
            except StorageError as error:  # the heartbeat is late: status says so
                self.worker.outage.failed("heartbeat", error)  # type: ignore[union-attr]

    def wake_sender(self) -> None:
        """Run a delivery pass now: another replica queued alerts (LISTEN/NOTIFY on PostgreSQL).

        Called on the service loop (bot.delivery.wake); a pass already queued is not doubled.
        """
        if self.worker is not None and not self.replay and not self._stop.is_set():
            self.worker.submit([WorkItem("deliver", self.clock.now(), origin="notify")])

    def _submit_due_retry(self) -> None:
        # An evaluation whose refresh could not reach Yahoo runs again on its own schedule
        # (ROTATION_FETCH_RETRY_MINUTES), not only at the next session's slot.
        now = self.clock.now()
        session = self.jobs.due_retry(now)
        if session is not None:
            alert = schedule.should_alert(session, now, self.settings.catchup_alert_days)
            log.info("trying the refresh of %s again", session)
            self.worker.submit([WorkItem("evaluate", now, session, alert=alert, origin="retry")])  # type: ignore[union-attr]

    @contextmanager
    def _cut_short_by_stop(self, what: str) -> Iterator[None]:
        # The scheduler's shutdown cancels the jobs in flight: at a stop that is expected
        # (the next start redoes their work) and must not be logged as a crash.
        try:
            yield
        except asyncio.CancelledError:
            if not self._stop.is_set():
                raise
            log.debug("%s cut short by the shutdown", what)

    def _chain_next(self) -> None:
        if self._stop.is_set():
            return
        at = schedule.next_slot_after(self._cursor, self.settings, until=self._until)
        if at is None:
            if self.replay:
                self.request_stop("replay finished")
                return
            at = self._cursor + timedelta(days=schedule.LOOKAHEAD_DAYS)  # re-plan then
        run_date = datetime.now(UTC) + timedelta(seconds=self.clock.seconds_until(at))
        if not self.clock.simulated:
            log.info(
                "next jobs at %s", at.astimezone(calendar.NEW_YORK).strftime("%a %Y-%m-%d %H:%M %Z")
            )
        # One job per slot, unique id. misfire_grace_time=None: a slot must run however late
        # it fires (after a suspend, or behind a long job), since it also schedules the next
        # slot; the cursor makes a late slot queue everything due since the previous one,
        # once. coalesce/max_instances only matter for repeating triggers, set for clarity.
        self._scheduler.add_job(
            self._on_slot,
            DateTrigger(run_date=run_date),
            args=[at],
            id=f"slot-{at.isoformat()}",
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
        )

    async def _on_slot(self, at: datetime) -> None:
        with self._cut_short_by_stop(f"planning at {at}"):
            await self._plan_slot(at)
        self._chain_next()

    async def _plan_slot(self, at: datetime) -> None:
        try:
            self.clock.advance_to(at)
            now = max(at, self.clock.now())
            if self._until is not None:
                now = min(now, self._until)
            due = schedule.jobs_between(self._cursor, now, self.settings)
            self._cursor = now
            items = planned_items(due, now, self.settings, replay=self.replay is not None)
            if not self.is_leader():
                log.debug("not the leader: leaving %d planned job(s) to it", len(items))
                items = []
            self.worker.submit(items)  # type: ignore[union-attr]
            if self.clock.simulated:
                # Simulated time waits for the work, so jobs see the time they were planned for.
                await self.worker.wait_idle()  # type: ignore[union-attr]
        except Exception:
            log.exception("planning failed at %s; will retry at the next slot", at)

    def _add_signal_handlers(self) -> None:
        if not self._install_signals:
            return
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.request_stop, signal.Signals(signum).name)

    async def _shutdown(
        self, worker_task: asyncio.Task[None], extra: list[asyncio.Task[None]], state: StateStore
    ) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if self.worker is not None:
            self.worker.close()
        await worker_task  # the job in flight finishes; nothing new starts
        await self._stop_leadership()
        for task in extra:
            task.cancel()
        await asyncio.gather(*extra, return_exceptions=True)
        if self._install_signals:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
        try:
            await state.set_state({"stopped_at": _iso(self.clock.now())}, datetime.now(UTC))
        except StorageError as error:
            log.warning("could not record the stop: %s", one_line(error))
        await asyncio.to_thread(state.close)
        log.info("stopped")

    async def _stop_leadership(self) -> None:
        task = self._leader_task
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self.leadership is not None and self.leadership.replica_id:
            await self.leadership.stop()  # after the job in flight: no overlap with a successor


def _migrate(path: Path) -> None:
    open_db(path).close()


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")

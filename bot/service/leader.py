"""Leadership: which replica runs the schedule, and the fence that keeps a deposed one idle.

Every replica runs the same `rotation-bot run`. The refresh, evaluation, snapshot, digest and
re-notification jobs (and the catch-up at start) run on the leader only: the replica holding
the lease (`storage.leader_lease`: an advisory lock on PostgreSQL, always this replica on
SQLite). `Leadership.run` takes or renews the lease every `tick` seconds and tells the service
when this replica starts leading (it runs the catch-up) and stops (it plans nothing more).
`FencedJobs` checks the lease again as each leader job starts, so a job queued before the
lease was lost (or found on waking from a hang) never starts. Each replica also keeps its row
in the replicas registry fresh, for `status` and `/status`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime, timedelta
from importlib import metadata
from pathlib import Path

from bot.service.worker import Jobs
from bot.sources.base import FetchInterrupted
from storage import replicas, stamps
from storage.db import Store, open_shared
from storage.leader_lease import LeaderLease, SoloLease, open_lease

log = logging.getLogger(__name__)

# Registry heartbeat (`bot.service.health.REPLICA_GONE` shows a silent replica as gone);
# the leader prunes rows not seen for REPLICA_PRUNE.
REGISTRY_SECONDS = 5.0
REPLICA_PRUNE = timedelta(hours=1)
# Followers try to take the lease this often (failover after a kill is within one tick).
MAX_TICK = 0.5


class LeaseLost(FetchInterrupted):
    """A leader job not started (or cut short) because this replica no longer leads."""


def replica_identity(engine: str) -> dict[str, object]:
    """This process in the registry: `host:pid`, version, engine, start time."""
    host, pid = socket.gethostname(), os.getpid()
    return {
        "id": f"{host}:{pid}",
        "host": host,
        "pid": pid,
        "version": _version(),
        "engine": engine,
        "started_at": stamps.utc_now().isoformat(timespec="milliseconds"),
    }


def _version() -> str:
    try:
        return metadata.version("rotation-bot")
    except metadata.PackageNotFoundError:
        return "unknown"


class Leadership:
    """The lease on a timer, the role it gives, and the registry row that shows it."""

    def __init__(self, lease: LeaderLease, db_path: Path | str, seconds: float) -> None:
        self.lease, self.db_path, self.seconds = lease, db_path, seconds
        self.solo = isinstance(lease, SoloLease)
        self.tick = REGISTRY_SECONDS if self.solo else min(MAX_TICK, seconds / 8)
        self.leading = asyncio.Event()
        self.following = asyncio.Event()
        self.following.set()
        self.on_elected: Callable[[], Awaitable[None]] | None = None
        self.replica_id = ""
        self._registry: Store | None = None
        self._next_beat = 0.0

    @classmethod
    def for_database(cls, db_path: Path | str, seconds: float) -> Leadership:
        """The lease the database calls for (see `storage.leader_lease.open_lease`)."""
        return cls(open_lease(db_path, seconds), db_path, seconds)

    def is_leader(self) -> bool:
        """True while this replica leads and its lease is fresh (the fence)."""
        return self.leading.is_set() and self.lease.held()

    async def confirm(self) -> bool:
        """The fence before a leader job: the lease is fresh, or renewing it now succeeds.

        A renewal that waited behind a busy loop leaves a stale lease that is still held; the
        server is asked (the session is alive, so its lock is) instead of dropping the job.
        A leader that hung past the lease finds its session gone and starts nothing.
        """
        if self.is_leader():
            return True
        if not self.leading.is_set():
            return False
        # Renew only: a lease lost and free again is taken back by `run`, as an election.
        return await asyncio.to_thread(self.lease.renew) and self.lease.held()

    async def start(self) -> bool:
        """Register this replica and make the first attempt at the lease; True if it leads."""
        self._registry = await asyncio.to_thread(open_shared, self.db_path)
        identity = replica_identity(self._registry.engine)
        self.replica_id = str(identity["id"])
        await self._registry_call(replicas.announce, identity, stamps.utc_now())
        held = await asyncio.to_thread(self.lease.try_hold)
        await self._settle(held, elect=False)
        return held

    async def run(self) -> None:
        """Take or renew the lease every tick until cancelled; react to changes of role."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.tick)
            held = await asyncio.to_thread(self.lease.try_hold)
            await self._settle(held)
            if loop.time() >= self._next_beat:
                self._next_beat = loop.time() + REGISTRY_SECONDS
                await self._beat()

    async def _settle(self, held: bool, *, elect: bool = True) -> None:
        if held and not self.leading.is_set():
            # A sole replica on SQLite always leads: nothing worth telling at INFO.
            level = logging.DEBUG if self.solo else logging.INFO
            log.log(level, "this replica (%s) is now the leader", self.replica_id)
            self.following.clear()
            self.leading.set()
            await self._registry_call(replicas.set_role, self.replica_id, "leader", _now())
            if elect and self.on_elected is not None:
                await self.on_elected()
        elif not held and self.leading.is_set():
            reason = getattr(self.lease, "error", "") or "lease taken"
            log.warning("this replica (%s) lost the leader lease (%s)", self.replica_id, reason)
            self.leading.clear()
            self.following.set()
            await self._registry_call(replicas.set_role, self.replica_id, "follower", _now())

    async def _beat(self) -> None:
        now = _now()
        await self._registry_call(replicas.beat, self.replica_id, now)
        if self.leading.is_set():
            await self._registry_call(replicas.prune, now - REPLICA_PRUNE)

    async def _registry_call(self, function: Callable[..., object], *args: object) -> None:
        # The registry is for people reading status: a failed write is logged, not fatal.
        if self._registry is None:
            return
        try:
            await asyncio.to_thread(function, self._registry, *args)
        except Exception as error:
            log.warning("replica registry: %s failed: %s", function.__name__, _one_line(error))

    async def stop(self) -> None:
        """Give the lease up and mark this replica stopped (clean shutdown)."""
        self.leading.clear()
        await asyncio.to_thread(self.lease.release)
        await self._registry_call(replicas.set_role, self.replica_id, "stopped", _now())
        if self._registry is not None:
            await asyncio.to_thread(self._registry.close)
            self._registry = None

    async def while_leading(self, start: Callable[[], Awaitable[None]], what: str) -> None:
        """Run `start()` while this replica leads; cancel it when it stops leading; repeat.

        For the Discord gateway: one session per bot, on the leader only.
        """
        while True:
            await self.leading.wait()
            log.info("starting %s on the leader", what)
            task = asyncio.ensure_future(start())
            deposed = asyncio.ensure_future(self.following.wait())
            try:
                done, _ = await asyncio.wait({task, deposed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                deposed.cancel()
                if not task.done():
                    task.cancel()
            if task in done:
                return task.result()
            await asyncio.gather(task, return_exceptions=True)
            log.info("stopped %s: this replica no longer leads", what)


class FencedJobs:
    """The service's jobs, each leader job refused unless the lease is held as it starts."""

    def __init__(self, jobs: Jobs, confirm: Callable[[], Awaitable[bool]]) -> None:
        self._jobs, self._confirm = jobs, confirm

    async def _fence(self, what: str) -> None:
        if not await self._confirm():
            raise LeaseLost(f"not started: this replica no longer holds the leader lease ({what})")

    async def refresh_intraday(self, now: datetime) -> object:
        await self._fence("intraday refresh")
        return await self._jobs.refresh_intraday(now)

    async def evaluate_session(self, session: date, now: datetime, *, alert: bool) -> int:
        await self._fence(f"evaluation of {session}")
        return await self._jobs.evaluate_session(session, now, alert=alert)

    async def snapshot_after_close(self, session: date, now: datetime) -> object:
        await self._fence(f"snapshot of {session}")
        return await self._jobs.snapshot_after_close(session, now)

    async def send_digest(self, session: date, now: datetime) -> object:
        await self._fence(f"digest of {session}")
        return await self._jobs.send_digest(session, now)

    async def deliver(self) -> Mapping[str, int]:
        return await self._jobs.deliver()  # every replica sends

    def stop(self) -> None:
        self._jobs.stop()

    def due_retry(self, now: datetime) -> date | None:
        return self._jobs.due_retry(now)


def _now() -> datetime:
    return stamps.utc_now()


def _one_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"

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

from bot.service.db_outage import OutageLog, one_line
from bot.service.worker import Jobs
from bot.sources.base import FetchInterrupted
from storage import replicas, stamps
from storage.db import StorageError, Store, open_shared
from storage.leader_lease import LeaderLease, SoloLease, open_lease

log = logging.getLogger(__name__)

# Registry heartbeat (`bot.service.health.REPLICA_GONE` shows a silent replica as gone);
# the leader prunes rows not seen for REPLICA_PRUNE.
REGISTRY_SECONDS = 5.0
REPLICA_PRUNE = timedelta(hours=1)
# Followers try to take the lease this often (failover after a kill is within one tick).
MAX_TICK = 0.5
# The registry shows a replica whose worker has not worked this long (status: stuck).
STALL_SHOWN = 30.0


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
        # The watchdog: (seconds, why) the worker has not been able to work (the service
        # sets it to `Worker.stalled`); past `watchdog` seconds a leader gives its lease up.
        self.stalled: Callable[[], tuple[float, str]] = lambda: (0.0, "")
        self.watchdog = 600.0
        self.outage = OutageLog()
        self._tick_failed = False
        self._stall_shown = False  # what the registry row says now
        self._taken = 0  # the lease's `taken` count when this replica last settled as leader

    @classmethod
    def for_database(cls, db_path: Path | str, seconds: float) -> Leadership:
        """The lease the database calls for (see `storage.leader_lease.open_lease`)."""
        return cls(open_lease(db_path, seconds), db_path, seconds)

    def is_leader(self) -> bool:
        """True while this replica leads and its lease is fresh (the fence)."""
        return self.leading.is_set() and self.lease.held()

    async def confirm(self) -> bool:
        """The fence before a leader job: renewing the lease now succeeds.

        The server is always asked, even with a fresh lease: a lease session terminated on
        the server (`pg_terminate_backend`, a pooler restart) frees the lock at once, and a
        successor may take it before this replica's next tick notices. A renewal that waited
        behind a busy loop still finds its session alive; a leader that hung past the lease
        finds it gone and starts nothing.
        """
        if not self.leading.is_set():
            return False
        # Renew only: a lease lost and free again is taken back by `run`, as an election.
        return await asyncio.to_thread(self.lease.renew) and self.lease.held()

    async def start(self) -> bool:
        """Register this replica and make the first attempt at the lease; True if it leads."""
        self._registry = await asyncio.to_thread(open_shared, self.db_path)
        identity = replica_identity(self._registry.engine)
        self.replica_id = str(identity["id"])
        await self._registry_call(replicas.announce, identity)
        held = await asyncio.to_thread(self.lease.try_hold)
        await self._settle(held, elect=False)
        return held

    async def run(self) -> None:
        """Take or renew the lease every tick until cancelled; react to changes of role.

        Nothing ends this loop but a cancel: a tick that fails (the database away, a bug in
        a callback) is logged once and the next tick tries again.
        """
        while True:
            await asyncio.sleep(self.tick)
            try:
                await self._tick()
                self._tick_failed = False
            except Exception as error:
                self._tick_trouble(error)

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        stalled, why = self.stalled()
        if stalled > self.watchdog and not self.solo:  # SQLite: no other replica to lead
            await self._stand_down(stalled, why)
        else:
            held = await asyncio.to_thread(self.lease.try_hold)
            await self._settle(held)
        if (stalled > STALL_SHOWN) != self._stall_shown:
            self._next_beat = 0.0  # stuck, or working again: status shows it now
        if loop.time() >= self._next_beat:
            self._next_beat = loop.time() + REGISTRY_SECONDS
            await self._beat()

    def _tick_trouble(self, error: Exception) -> None:
        if isinstance(error, StorageError):
            self.outage.failed("leader lease tick", error)
        elif not self._tick_failed:  # one traceback, not one per tick
            log.exception("leader lease tick failed; trying again every tick")
        self._tick_failed = True

    async def _stand_down(self, stalled: float, why: str) -> None:
        # The watchdog: a leader whose worker cannot work would hold the schedule hostage
        # while its lease and heartbeat stay fresh. It stands again once its worker works.
        if self.leading.is_set():
            log.error(
                "this replica's worker has not worked for %.0f s (%s): giving up the leader "
                "lease so that another replica leads",
                stalled,
                why,
            )
            await self._resign()

    async def _resign(self) -> None:
        await asyncio.to_thread(self.lease.release)
        self.leading.clear()
        self.following.set()
        await self._registry_call(replicas.set_role, self.replica_id, "follower")

    async def _settle(self, held: bool, *, elect: bool = True) -> None:
        if held and self.leading.is_set() and self._lapsed():
            # The lease ran out unnoticed (a loop blocked past it) and this tick took it
            # back: the leader jobs refused meanwhile, the catch-up's among them, are redone.
            log.warning("this replica (%s) took the leader lease back after it lapsed: "
                        "catching up again", self.replica_id)  # fmt: skip
            await self._registry_call(replicas.set_role, self.replica_id, "leader")
            if elect:
                await self.elected()
        elif held and not self.leading.is_set():
            self._lapsed()
            # A sole replica on SQLite always leads: nothing worth telling at INFO.
            level = logging.DEBUG if self.solo else logging.INFO
            log.log(level, "this replica (%s) is now the leader", self.replica_id)
            self.following.clear()
            self.leading.set()
            await self._registry_call(replicas.set_role, self.replica_id, "leader")
            if elect:
                await self.elected()
        elif not held and self.leading.is_set():
            reason = getattr(self.lease, "error", "") or "lease taken"
            log.warning("this replica (%s) lost the leader lease (%s)", self.replica_id, reason)
            self.leading.clear()
            self.following.set()
            await self._registry_call(replicas.set_role, self.replica_id, "follower")

    def _lapsed(self) -> bool:
        """True once per new taking of the lease (not a renewal) since the last call."""
        taken = getattr(self.lease, "taken", 0)
        lapsed, self._taken = taken != self._taken, taken
        return lapsed

    async def elected(self) -> None:
        """Run the new leader's catch-up (`on_elected`); give the lease up if it fails.

        A replica elected just as the database came back may fail its catch-up: leading
        without it would skip the missed sessions, so it stands again at the next tick (this
        replica or another runs the catch-up then).
        """
        if self.on_elected is None:
            return
        try:
            await self.on_elected()
        except Exception as error:
            log.warning(
                "the new leader's catch-up could not start (%s): giving up the lease to stand "
                "again",
                one_line(error),
            )
            await self._resign()

    async def _beat(self) -> None:
        # The registry's instants are the database server's (storage.replicas), not this host's.
        stalled, why = self.stalled()
        shown = f"for {stalled:.0f} s: {why}" if stalled > STALL_SHOWN else None
        role = "leader" if self.leading.is_set() else "follower"
        self._stall_shown = shown is not None
        await self._registry_call(replicas.beat, self.replica_id, None, shown, role)
        if self.leading.is_set():
            await self._registry_call(replicas.prune_gone, REPLICA_PRUNE)

    async def _registry_call(self, function: Callable[..., object], *args: object) -> None:
        # The registry is for people reading status: a failed write is logged, not fatal.
        if self._registry is None:
            return
        try:
            await asyncio.to_thread(function, self._registry, *args)
        except StorageError as error:
            self.outage.failed(f"replica registry {function.__name__}", error)
            self._next_beat = 0.0  # the next tick writes the row (and the role) again
        except Exception as error:
            log.warning("replica registry: %s failed: %s", function.__name__, one_line(error))

    async def stop(self) -> None:
        """Give the lease up and mark this replica stopped (clean shutdown)."""
        self.leading.clear()
        await asyncio.to_thread(self.lease.release)
        await self._registry_call(replicas.set_role, self.replica_id, "stopped")
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

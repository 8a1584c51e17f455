"""Three replicas on one PostgreSQL database: start them, find the leader, kill or hang it.

Shared by `tests/bot/test_high_availability.py` and `bench/failover.py`. Each replica is a
real process (`tests.fakes.ha_replica`: `rotation-bot run`'s composition on a frozen clock,
no fetching) posting to the Discord and Slack stand-ins. The database holds the shared
data's prices and rates and a last evaluated session some weeks before the clock, so the
first leader has a real catch-up to run: one evaluation per missed session.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from bot.service.health import replica_states
from storage import replicas, service_state
from storage.db import open_db
from storage.outbox import list_outbox
from storage.outbox_health import count_open

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 7, 31, 22, 0, tzinfo=UTC)  # Friday 18:00 in New York, after the close
LAST_DONE = date(2025, 12, 31)  # the catch-up evaluates 2026 to the end of July


def prepare_database(url: str, data: Path, last_done: date = LAST_DONE) -> None:
    """Import the shared prices and rates into `url` and record `last_done` as evaluated."""
    from typer.testing import CliRunner

    from bot.cli import _register_commands, app

    _register_commands()
    for args in (
        ("prices", "import", str(data / "prices")),
        ("series", "import", str(data / "macro" / "fred_rates_daily.csv")),
    ):
        result = CliRunner().invoke(app, ["--db", url, *args])
        assert result.exit_code == 0, result.output
    db = open_db(url)
    try:
        stamp = datetime.combine(last_done, datetime.min.time(), UTC).replace(hour=21)
        run = {"job": "evaluate", "session": last_done, "outcome": "ok"}
        service_state.record_run(db, {**run, "started_at": stamp, "finished_at": stamp})
    finally:
        db.close()


@dataclass
class Replica:
    """One replica process; its log goes to a file (a pipe nobody reads would fill up)."""

    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Cluster:
    """The replicas of one trial and the database they share."""

    url: str
    env: dict[str, str]
    folder: Path
    members: list[Replica] = field(default_factory=list)

    def start(self, count: int = 3) -> None:
        """Start `count` replicas, one after another."""
        for _ in range(count):
            self.members.append(self._spawn())

    def _spawn(self) -> Replica:
        log = self.folder / f"replica-{len(self.members)}.log"
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "ROTATION_DB": self.url, **self.env}
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.fakes.ha_replica", "--now", NOW.isoformat()],
                cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        return Replica(process, log)

    def wait_until_all_registered(self, timeout: float = 60.0) -> None:
        """Until every replica is up and planned: a fair start for a failover."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            db = open_db(self.url, migrate=False)
            try:
                rows = replica_states(replicas.list_replicas(db), datetime.now(UTC))
            finally:
                db.close()
            live = {int(row["pid"]) for row in rows if row["state"] in ("leader", "follower")}
            # "next jobs at": the start-up is over (the first plan of the NYSE calendar keeps
            # the loop busy for about a second; a replica in it would answer late).
            planned = all("next jobs at" in member.text() for member in self.members)
            if {member.pid for member in self.members} <= live and planned:
                return
            time.sleep(0.05)
        raise AssertionError("replicas did not all start:\n" + self.logs())

    def by_pid(self, pid: int) -> Replica:
        return next(member for member in self.members if member.pid == pid)

    def leader_pids(self) -> list[int]:
        """Pids of this cluster's replicas the registry shows leading (one, or none)."""
        db = open_db(self.url, migrate=False)
        try:
            rows = replica_states(replicas.list_replicas(db), datetime.now(UTC))
        finally:
            db.close()
        mine = {member.pid for member in self.members if member.process.poll() is None}
        # Rows of an earlier trial's replicas (same database) are not this cluster's leaders.
        return [int(row["pid"]) for row in rows if row["state"] == "leader" and row["pid"] in mine]

    def wait_for_leader(self, *, other_than: int | None = None, timeout: float = 30.0) -> int:
        """Poll every 20 ms until a replica (not `other_than`) leads; return its pid."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = [pid for pid in self.leader_pids() if pid != other_than]
            if pids:
                return pids[0]
            time.sleep(0.02)
        raise AssertionError("no new leader:\n" + self.logs())

    def evaluations_done(self) -> int:
        db = open_db(self.url, migrate=False)
        try:
            rows = db.execute(
                "SELECT count(*) FROM service_runs WHERE job = 'evaluate' AND outcome = 'ok'"
            ).fetchone()
        finally:
            db.close()
        return int(rows[0]) - 1  # the row prepare_database recorded

    def last_evaluated(self) -> date | None:
        db = open_db(self.url, migrate=False)
        try:
            return service_state.last_evaluated_session(db)
        finally:
            db.close()

    def last_digest(self) -> date | None:
        """The latest session whose digest finished: the catch-up's last job."""
        db = open_db(self.url, migrate=False)
        try:
            return service_state.last_session_done(db, "digest")
        finally:
            db.close()

    def failover_after(self, signum: signal.Signals) -> tuple[int, int, float]:
        """Send `signum` to the leader; return (old pid, new pid, seconds to the new leader)."""
        old = self.wait_for_leader()
        started = time.monotonic()
        os.kill(old, signum)
        new = self.wait_for_leader(other_than=old)
        return old, new, time.monotonic() - started

    def stop(self) -> None:
        """SIGCONT and SIGTERM every replica still running; SIGKILL any that hangs on."""
        for member in self.members:
            if member.process.poll() is None:
                os.kill(member.pid, signal.SIGCONT)
                member.process.terminate()
        for member in self.members:
            try:
                member.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                member.process.kill()
                member.process.wait()

    def logs(self) -> str:
        tails = (f"--- {m.log.name} (pid {m.pid})\n{m.text()[-3000:]}" for m in self.members)
        return "\n".join(tails)


def outbox_rows(url: str) -> list[tuple[str, str]]:
    """(dedupe key, destination) of every queued alert, sorted."""
    db = open_db(url, migrate=False)
    try:
        rows = list_outbox(db)
    finally:
        db.close()
    return sorted((row["dedupe_key"], row["destination"]) for row in rows)


def open_outbox_rows(url: str) -> int:
    """How many outbox rows are still to be sent (pending or sending)."""
    db = open_db(url, migrate=False)
    try:
        return count_open(db)
    finally:
        db.close()


def queued_in_order(url: str) -> dict[str, list[str]]:
    """Each destination's alert keys in outbox id order: the order they must arrive in."""
    db = open_db(url, migrate=False)
    try:
        rows = list_outbox(db)  # oldest first
    finally:
        db.close()
    order: dict[str, list[str]] = {}
    for row in rows:
        order.setdefault(row["destination"], []).append(row["dedupe_key"])
    return order


def outbox_states(url: str) -> str:
    """Every row's key, destination, status and last error: what a failed count needs to say."""
    db = open_db(url, migrate=False)
    try:
        rows = list_outbox(db)
    finally:
        db.close()
    return "\n".join(
        f"{row['dedupe_key']} {row['destination']} {row['status']} {row.get('last_error')}"
        for row in rows
    )


def delivery_report(posted: dict[str, list[str]], queued: dict[str, list[str]]) -> str:
    """What differs between what arrived and what was queued: lost, repeated, out of order."""
    lines = []
    for dest in sorted(set(posted) | set(queued)):
        got, want = posted.get(dest, []), queued.get(dest, [])
        lost = [k for k in want if k not in got]
        repeated = sorted({k for k in got if got.count(k) > 1})
        unqueued = [k for k in got if k not in want]
        order_ok = list(dict.fromkeys(got)) == [k for k in want if k in got]
        lines.append(
            f"{dest}: {len(got)} posted, {len(want)} queued; lost {lost}; repeated {repeated};"
            f" never queued {unqueued}; in order: {order_ok}"
        )
    return "\n".join(lines)


def copy_database(admin_url: str, source: str, target: str) -> None:
    """`CREATE DATABASE target TEMPLATE source`, after ending the sessions left on `source`."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            [source],
        )
        conn.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}" STRATEGY FILE_COPY')

"""PostgreSQL faults under running replicas: restart, stop, terminated sessions; what they cost.

Shared by `tests/bot/test_pg_faults.py` and `bench/pg_faults.py`. The replicas are the real
processes of `tests.fakes.ha_kit` (`rotation-bot run`'s composition on a frozen clock) on a
cluster of their own (`tests.pg_cluster`), so stopping the server disturbs no other test.
Each trial queues a batch of alerts for a Discord and a Slack channel, strikes while they are
being sent, and samples every 50 ms until the batch is delivered: how many replicas the
registry shows leading at once, whether any replica process died, how long after the
server's return a leader was back and the batch delivered. The stand-ins' arrivals are
compared with the queue at the end: none lost, none repeated, each channel in order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

import psycopg

from bot.service.health import REPLICA_GONE
from storage import replicas, service_state
from storage.db import StorageError, open_db
from storage.outbox import enqueue_alerts
from tests.fakes.delivery_kit import make_event
from tests.fakes.ha_kit import Cluster, open_outbox_rows
from tests.fakes.kill_trials import CHANNEL_ID, DISCORD_CHANNEL
from tests.pg_cluster import Cluster as PgCluster

DESTINATIONS = [f"discord:{DISCORD_CHANNEL}", f"slack:{CHANNEL_ID}"]
LAST_SESSION = date(2026, 7, 31)  # the frozen clock's session: the catch-up has nothing to do
# Sessions of each kind, told apart by pg_stat_activity (the LISTEN one by its last query).
KINDS = {
    "lease": "application_name = 'rotation-bot-lease'",
    "listen": "query LIKE 'LISTEN%%'",
    "ordinary": "application_name <> 'rotation-bot-lease' AND query NOT LIKE 'LISTEN%%'",
}


def prepare(url: str) -> None:
    """Record the frozen clock's session as evaluated: replicas start with nothing to catch up."""
    db = open_db(url)
    try:
        stamp = datetime(2026, 7, 31, 21, tzinfo=UTC)
        run = {"job": "evaluate", "session": LAST_SESSION, "outcome": "ok"}
        service_state.record_run(db, {**run, "started_at": stamp, "finished_at": stamp})
    finally:
        db.close()


def queue_batch(url: str, batch: int, size: int) -> None:
    """`size` alerts for both channels."""
    events = [make_event(rule=f"fault_{batch:02d}_{n:02d}") for n in range(size)]
    db = open_db(url)
    try:
        enqueue_alerts(db, events, DESTINATIONS)
    finally:
        db.close()


def terminate(admin_url: str, database: str, kind: str) -> int:
    """End every session of `kind` on `database` (`pg_terminate_backend`); return how many."""
    sql = (
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        f" WHERE datname = %s AND pid <> pg_backend_pid() AND {KINDS[kind]}"
    )
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(sql, [database]).fetchone()  # type: ignore[arg-type]
    return int(row[0]) if row else 0


def strike(server: PgCluster, database: str, fault: str, outage: float) -> None:
    """Apply `fault`: restart-fast, restart-immediate, stop (for `outage` s), terminate-<kind>."""
    if fault.startswith("restart-"):
        server.restart_server(fault.removeprefix("restart-"))
    elif fault == "stop":
        server.stop_server("fast")
        time.sleep(outage)
        server.start_server()
    elif fault.startswith("terminate-"):
        terminate(server.url("postgres"), database, fault.removeprefix("terminate-"))
    else:
        raise ValueError(f"unknown fault {fault!r}")


@dataclass
class Outcome:
    """What one fault cost."""

    fault: str
    leader_back: float  # seconds from the server's return to one leader in the registry
    drained: float  # seconds from the server's return to the batch delivered
    resumed: float | None  # seconds from the server's return to the next post (None: none left)
    most_leaders: int  # the most replicas the registry showed leading at one sample
    doubled: int  # samples (50 ms apart) in which the registry showed two leaders
    died: list[int]  # replica processes that ended (none should)
    stuck: list[str]  # registry `stalled` notes after recovery (none should)

    def line(self) -> str:
        return (
            f"{self.fault:<18} leader back {self.leader_back:5.2f} s  posting again "
            f"{'-' if self.resumed is None else f'{self.resumed:5.2f} s'}"
            f"  drained {self.drained:5.2f} s"
            f"  leaders at once {self.most_leaders} ({self.doubled} samples)"
            f"  died {len(self.died)}"
            f"  stuck {len(self.stuck)}"
        )


def leaders_now(url: str, cluster: Cluster) -> int | None:
    """Live replicas of `cluster` whose registry row says leader (None: database away)."""
    try:
        db = open_db(url, migrate=False)
    except StorageError:
        return None
    try:
        rows = replicas.list_replicas(db)
    except StorageError:
        return None
    finally:
        db.close()
    alive = {m.pid for m in cluster.members if m.process.poll() is None}
    now = datetime.now(UTC)
    return sum(
        1
        for row in rows
        if row["role"] == "leader"
        and int(row["pid"]) in alive
        and now - datetime.fromisoformat(str(row["last_seen"])) <= REPLICA_GONE
    )


def stalled_notes(url: str) -> list[str]:
    db = open_db(url, migrate=False)
    try:
        return [str(r["stalled"]) for r in replicas.list_replicas(db) if r.get("stalled")]
    finally:
        db.close()


def open_rows(url: str) -> int | None:
    try:
        return open_outbox_rows(url)
    except StorageError:
        return None


def run_fault(
    server: PgCluster, cluster: Cluster, fault: str, batch: int, *, size: int = 20,
    outage: float = 3.0, timeout: float = 90.0, sent: Callable[[], int] = lambda: 1,
) -> Outcome:  # fmt: skip
    """Queue `size` alerts, strike once the first is posted, sample until delivered."""
    url, database = cluster.url, urlsplit(cluster.url).path.lstrip("/")
    before = sent()
    queue_batch(url, batch, size)
    deadline = time.monotonic() + 10
    while sent() == before and time.monotonic() < deadline:
        time.sleep(0.01)  # strike while the batch is being sent
    most = doubled = 0
    strike(server, database, fault, outage)
    back, posted = time.monotonic(), sent()
    leader_back = drained = resumed = None
    deadline = back + timeout
    while time.monotonic() < deadline and (leader_back is None or drained is None):
        leaders = leaders_now(url, cluster)
        most = max(most, leaders or 0)
        doubled += (leaders or 0) > 1
        if leader_back is None and leaders == 1:
            leader_back = time.monotonic() - back
        if resumed is None and sent() > posted:
            resumed = time.monotonic() - back
        if drained is None and open_rows(url) == 0:
            drained = time.monotonic() - back
        time.sleep(0.05)
    died = [m.pid for m in cluster.members if m.process.poll() is not None]
    if leader_back is None or drained is None:
        raise AssertionError(f"{fault}: no recovery in {timeout:.0f} s:\n{cluster.logs()}")
    return Outcome(fault, leader_back, drained, resumed, most, doubled, died, still_stuck(url))


def still_stuck(url: str, within: float = 10.0) -> list[str]:
    """Registry notes of replicas still stuck `within` s after the batch went out.

    A replica that could not work during a long stop is shown stuck until its next job
    succeeds; its delivery pass is retried at most 8 s apart.
    """
    deadline = time.monotonic() + within
    notes = stalled_notes(url)
    while notes and time.monotonic() < deadline:
        time.sleep(0.1)
        notes = stalled_notes(url)
    return notes

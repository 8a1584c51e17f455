"""5,000 queued alerts drained by 1 and by 3 sender processes, on PostgreSQL and SQLite.

Usage: python bench/outbox_drain.py [--queued N] [--channels C] [--bucket POSTS/SECONDS]
                                    [--url POSTGRES_URL]         (default 5000, 5, 1000/1)

Per engine and sender count: N alerts queued over C Discord channels in a fresh database,
then that many `tests.fakes.deliver_once` processes (real discord.py against the local
stand-in, `--no-pace`) started together; the time is from their start until every row is
delivered. The stand-in applies a per-channel bucket of POSTS per SECONDS with Discord's
X-RateLimit-* headers (discord.py paces itself by them; a full bucket answers 429), so the
time measures the claim protocol and the platform round trips, not a sleep. Real Discord
allows 5 posts per 5 s per channel: `--bucket 5/5` shows that bound instead. Also printed:
one run of the correlated `min(id)` due query this branch replaced, on the full queue.
Without --url a throwaway local PostgreSQL cluster is started (the server binaries needed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.fakes

from storage.db import Store, open_db
from storage.outbox import due_rows, enqueue_alerts, head_rows, stamp
from storage.stamps import utc_now
from tests.fakes.delivery_kit import make_event
from tests.fakes.discord_api import FakeDiscord
from tests.pg_cluster import Cluster

ROOT = Path(__file__).resolve().parent.parent
OLD_DUE = """
SELECT o.* FROM outbox o
WHERE o.status IN ('pending', 'sending')
  AND (SELECT h.next_attempt_at FROM outbox h
       WHERE h.destination = o.destination AND h.status IN ('pending', 'sending')
       ORDER BY h.id LIMIT 1) <= ?
ORDER BY o.destination, o.id
"""


def channels(count: int) -> list[str]:
    return [str(100000000000000000 + number) for number in range(count)]


def queue(target: str, queued: int, names: list[str]) -> None:
    """`queued` alerts spread round-robin over the channels (one row each)."""
    db = open_db(target)
    events = [make_event(rule=f"rule_{number:05d}") for number in range(queued)]
    for index, name in enumerate(names):
        enqueue_alerts(db, events[index :: len(names)], [f"discord:{name}"])
    db.close()


def query_seconds(target: str, sql: str | None, timeout: float) -> float:
    """One run of the due query: the old text on the old index, or today's `due_rows`."""
    db = open_db(target, migrate=False)
    try:
        if db.engine == "postgresql":
            db.execute(f"SET statement_timeout = {int(timeout * 1000)}")
        if sql is not None:  # as before this branch: outbox_open over every row, status second
            db.execute("CREATE INDEX outbox_open_old ON outbox (destination, status, id)")
            db.execute("DROP INDEX outbox_open")
        started = time.perf_counter()
        try:
            if sql is None:
                due_rows(db, utc_now())
                head_rows(db)
            else:
                db.execute(sql, [stamp(utc_now())]).fetchall()
            return time.perf_counter() - started
        except Exception:  # the old query ran past the timeout
            return float("inf")
        finally:
            if sql is not None:
                _restore_index(db)
    finally:
        db.close()


def _restore_index(db: Store) -> None:
    db.execute("DROP INDEX outbox_open_old")
    db.execute(
        "CREATE INDEX outbox_open ON outbox (destination, id)"
        " WHERE status IN ('pending', 'sending')"
    )


def drain(target: str, senders: int, names: list[str], fake: FakeDiscord) -> float:
    """Seconds from the senders' start until every row is delivered (they then exit)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ROTATION_DB": target,
        "DISCORD_BOT_TOKEN": fake.token,
        "DISCORD_CHANNEL_IDS": ",".join(names),
        "DISCORD_API_BASE": fake.api_base,
        "DELIVERY_MAX_WAIT_SECONDS": "5",
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.deliver_once", "--no-pace", "--ready"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(senders)
    ]
    for process in processes:  # loaded and waiting: start-up is not part of the drain
        assert process.stdout is not None
        process.stdout.readline()
    started = time.perf_counter()
    for process in processes:
        _go(process)
    done = _wait_delivered(target, processes)
    for process in processes:
        process.wait(timeout=600)
    return done - started


def _go(process: subprocess.Popen[bytes]) -> None:
    assert process.stdin is not None
    process.stdin.write(b"go\n")
    process.stdin.close()


def _wait_delivered(target: str, processes: list[subprocess.Popen[bytes]]) -> float:
    db = open_db(target, migrate=False)
    try:
        while True:
            row = db.execute("SELECT count(*) FROM outbox WHERE status <> 'delivered'").fetchone()
            if row[0] == 0:
                return time.perf_counter()
            if all(p.poll() is not None for p in processes):
                raise SystemExit(f"the senders exited with {row[0]} row(s) not delivered")
            time.sleep(0.05)
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queued", type=int, default=5000)
    parser.add_argument("--channels", type=int, default=5)
    parser.add_argument("--bucket", default="1000/1")
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    posts, seconds = args.bucket.split("/")
    names = channels(args.channels)
    cluster = None
    if args.url is None:
        cluster = Cluster()
        cluster.start()
    print(f"{args.queued} alerts over {args.channels} channels, bucket {args.bucket} per channel")
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for engine in ("postgresql", "sqlite"):
                for senders in (1, 3):
                    target = _target(engine, cluster, args.url, scratch, senders)
                    queue(target, args.queued, names)
                    if senders == 1:
                        old = query_seconds(target, OLD_DUE, 120)
                        new = query_seconds(target, None, 120)
                        print(f"{engine:<10} due query on the full queue: before (correlated"
                              f" min(id), old index) {old:7.3f} s, now (due rows + heads)"
                              f" {new:6.3f} s")  # fmt: skip
                    fake = FakeDiscord(channel_limit=(int(posts), float(seconds))).start()
                    try:
                        took = drain(target, senders, names, fake)
                    finally:
                        fake.stop()
                    rate = args.queued / took
                    print(f"{engine:<10} {senders} sender(s): drained in {took:6.1f} s"
                          f" ({rate:5.0f} posts/s, {len(fake.messages)} posts)")  # fmt: skip
    finally:
        if cluster is not None:
            cluster.stop()


def _target(engine: str, cluster: Cluster | None, url: str | None, scratch: str, n: int) -> str:
    if engine == "sqlite":
        return str(Path(scratch) / f"drain-{n}.db")
    if cluster is not None:
        return cluster.new_database()
    db = open_db(url)  # a given database: empty its outbox first
    db.execute("DELETE FROM outbox")
    db.execute("DELETE FROM outbox_alerts")
    db.close()
    return str(url)


if __name__ == "__main__":
    main()

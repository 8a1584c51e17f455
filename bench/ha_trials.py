"""HA delivery trials: 3 sender processes on one PostgreSQL, one SIGKILLed, one SIGSTOPped.

Usage: python bench/ha_trials.py [--trials N] [--queued Q] [--lease S] [--seed K] [--url URL]
                                 (default 10 trials, 60 alerts, 4 s lease, seed 1)

Per trial (tests/fakes/ha_trials.py): Q alerts queued for two Discord channels and a Slack
channel (3 x Q rows) in a fresh PostgreSQL database, three real sender processes started
together; the Discord stand-in SIGKILLs the sender of its k-th post after accepting it
(k drawn from 1..2Q), the Slack stand-in SIGSTOPs the sender of its j-th post (j from 1..Q)
and the trial resumes it after twice the claim lease. Counted from what the stand-ins
received per channel, in arrival order: duplicates, losses, order violations, rows not
delivered. Target: 0, 0, 0, 0 (bot tokens; Discord's nonce window is off, so only the claim
protocol and the crash lookup prevent duplicates). Without --url a throwaway local cluster
is started (the PostgreSQL server binaries needed); no shared data.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.fakes

from tests.fakes.ha_trials import HaResult, run_ha_trial
from tests.pg_cluster import Cluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--queued", type=int, default=60)
    parser.add_argument("--lease", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    cluster = None if args.url else Cluster()
    if cluster is not None:
        cluster.start()
    results: list[HaResult] = []
    try:
        for _ in range(args.trials):
            url = cluster.new_database() if cluster is not None else _emptied(args.url)
            kill_at, stop_at = rng.randint(1, 2 * args.queued), rng.randint(1, args.queued)
            result = run_ha_trial(
                url, queued=args.queued, kill_at=kill_at, stop_at=stop_at, lease=args.lease
            )
            results.append(result)
            print(
                f"kill at Discord post {kill_at:3d}, stop at Slack post {stop_at:3d}:"
                f" duplicates {result.duplicates}, losses {result.losses},"
                f" order violations {result.order_violations},"
                f" undelivered {result.undelivered_rows}, {result.seconds:5.1f} s"
                + ("" if result.killed and result.stopped else "  (a fault did not happen)")
            )
    finally:
        if cluster is not None:
            cluster.stop()
    report(results)


def report(results: list[HaResult]) -> None:
    """One summary line: totals over every trial."""
    faults = sum(1 for r in results if r.killed and r.stopped)
    print(
        f"{len(results)} trial(s), {faults} with both faults:"
        f" duplicates {sum(r.duplicates for r in results)},"
        f" losses {sum(r.losses for r in results)},"
        f" order violations {sum(r.order_violations for r in results)},"
        f" undelivered rows {sum(r.undelivered_rows for r in results)}"
    )


def _emptied(url: str) -> str:
    from storage.db import open_db

    db = open_db(url)
    for table in (
        "outbox_requeued",
        "outbox",
        "outbox_alerts",
        "destination_pauses",
        "send_pacing",
    ):
        db.execute(f"DELETE FROM {table}")
    db.close()
    return url


if __name__ == "__main__":
    main()

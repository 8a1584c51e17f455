"""Leader failover: seconds from a killed or hung leader to its successor, three replicas.

Usage: python bench/failover.py [--trials N] [--lease SECONDS]   (default 5 trials, 2 s lease)

Each trial starts three replica processes (`tests.fakes.ha_replica`: `rotation-bot run`'s
composition, frozen clock, no fetching) on one throwaway PostgreSQL database holding the
shared data, SIGKILLs the leader and times the registry showing another leader, then
SIGSTOPs that one and times the next (SIGCONT after). Targets: after a kill under 2 s;
after a hang under the lease + 1 s. Needs the PostgreSQL server binaries and ../shared/data.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.fakes

from tests.fakes.ha_kit import Cluster, prepare_database
from tests.pg_cluster import start_cluster

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def trial(url: str, lease: float, folder: Path) -> tuple[float, float]:
    """One kill and one hang on three fresh replicas; the two failover times."""
    cluster = Cluster(url, {"ROTATION_LEADER_LEASE_SECONDS": str(lease)}, folder)
    cluster.start(3)
    try:
        cluster.wait_until_all_registered()  # a follower still importing could not take over
        _, _, after_kill = cluster.failover_after(signal.SIGKILL)
        hung, _, after_hang = cluster.failover_after(signal.SIGSTOP)
        cluster.by_pid(hung).process.send_signal(signal.SIGCONT)
    finally:
        cluster.stop()
    return after_kill, after_hang


def summary(name: str, times: list[float], goal: float) -> str:
    return (
        f"{name:<14} median {statistics.median(times):.2f} s, max {max(times):.2f} s "
        f"(goal < {goal:.1f} s) over {len(times)} trials"
    )


def main() -> None:
    """Run the trials and print the median and worst failover after a kill and a hang."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--lease", type=float, default=2.0)
    args = parser.parse_args()
    cluster = start_cluster()
    try:
        url = cluster.new_database()
        prepare_database(url, DATA, last_done=date(2026, 7, 29))
        kills, hangs = [], []
        with tempfile.TemporaryDirectory(prefix="rotation-failover-") as scratch:
            for number in range(args.trials):
                folder = Path(scratch) / str(number)
                folder.mkdir()
                after_kill, after_hang = trial(url, args.lease, folder)
                print(f"trial {number + 1}: kill {after_kill:.2f} s, hang {after_hang:.2f} s")
                kills.append(after_kill)
                hangs.append(after_hang)
    finally:
        cluster.stop()
    print(summary("after SIGKILL", kills, 2.0))
    print(summary("after SIGSTOP", hangs, args.lease + 1.0))


if __name__ == "__main__":
    main()

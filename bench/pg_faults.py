"""PostgreSQL faults under three replicas: recovery time, leaders at once, zombies, lost/repeated.

Usage: python bench/pg_faults.py [--trials N] [--stop-seconds S] [--lease SECONDS] [--batch N]
(defaults: 5 trials of each fault, a 60 s stop, the default 15 s lease, 5 alerts a batch)

Three replica processes (`tests.fakes.ha_replica`) on a PostgreSQL cluster of their own,
posting to the Discord and Slack stand-ins with the default claim lease (60 s). Each trial
queues a batch for both channels and strikes as the first post arrives: a fast restart, an
immediate restart, a stop of `--stop-seconds`, or the termination of every lease, LISTEN
or ordinary session. Printed per fault: seconds from the server's return to one leader in
the registry, to the next post at a stand-in, and to the batch delivered (it includes
Slack's 1 s per post pacing: 5 posts take about 4 s); the most leaders the registry showed
at once (and in how many 50 ms samples); replicas that died; replicas left stuck. At the
end, every alert queued against what the stand-ins received: lost, repeated, in order.
Goals: back within 5 s, never 2 leaders, 0 zombies, 0 lost, 0 repeated. Needs the
PostgreSQL server binaries.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.fakes

from tests.fakes.discord_api import FakeDiscord
from tests.fakes.ha_kit import Cluster, queued_in_order
from tests.fakes.kill_trials import CHANNEL_ID, DISCORD_CHANNEL
from tests.fakes.pg_faults import Outcome, prepare, run_fault
from tests.fakes.slack_api import FakeSlack
from tests.pg_cluster import CRASH_SAFE, start_cluster

FAULTS = (
    "restart-fast",
    "restart-immediate",
    "stop",
    "terminate-lease",
    "terminate-listen",
    "terminate-ordinary",
)


def replica_env(discord: FakeDiscord, slack: FakeSlack, lease: float) -> dict[str, str]:
    return {
        "ROTATION_LEADER_LEASE_SECONDS": str(lease),
        "ROTATION_DIGEST_TIME": "19:00",  # after the frozen clock: no digest in the counts
        "ROTATION_LOG_LEVEL": "INFO",
        "DISCORD_BOT_TOKEN": discord.token,
        "DISCORD_CHANNEL_IDS": DISCORD_CHANNEL,
        "DISCORD_API_BASE": discord.api_base,
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_CHANNEL": CHANNEL_ID,
        "SLACK_API_URL": slack.api_url,
    }


def summary(fault: str, outcomes: list[Outcome]) -> str:
    back = [o.leader_back for o in outcomes]
    drained = [o.drained for o in outcomes]
    resumed = [o.resumed for o in outcomes if o.resumed is not None] or [0.0]
    return (
        f"{fault:<18} leader back median {statistics.median(back):.2f} s max {max(back):.2f} s;"
        f" posting again max {max(resumed):.2f} s;"
        f" drained median {statistics.median(drained):.2f} s max {max(drained):.2f} s;"
        f" leaders at once max {max(o.most_leaders for o in outcomes)}"
        f" ({sum(o.doubled for o in outcomes)} samples with 2);"
        f" died {sum(len(o.died) for o in outcomes)}; stuck {sum(len(o.stuck) for o in outcomes)}"
        f" over {len(outcomes)} trials"
    )


def losses(expected: dict[str, list[str]], posted: dict[str, list[str]]) -> tuple[int, int, bool]:
    """(lost, repeated, in order) of what the channels received against the queue."""
    lost = repeated = 0
    ordered = True
    for destination, keys in expected.items():
        got = posted.get(destination, [])
        counts = Counter(got)
        lost += sum(1 for key in keys if counts[key] == 0)
        repeated += sum(count - 1 for count in counts.values() if count > 1)
        first_seen = list(dict.fromkeys(got))
        ordered = ordered and first_seen == [key for key in keys if key in counts]
    return lost, repeated, ordered


def main() -> None:
    """Run the trials; print each one, a summary per fault, and the loss count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--stop-seconds", type=float, default=60.0)
    parser.add_argument("--lease", type=float, default=15.0)
    parser.add_argument("--batch", type=int, default=5)
    args = parser.parse_args()
    server = start_cluster(CRASH_SAFE)
    discord, slack = FakeDiscord(nonce_window=0.0), FakeSlack()
    discord.start()
    slack.start()
    results: dict[str, list[Outcome]] = {fault: [] for fault in FAULTS}
    try:
        url = server.new_database()
        prepare(url)
        with tempfile.TemporaryDirectory(prefix="rotation-pg-faults-") as scratch:
            cluster = Cluster(url, replica_env(discord, slack, args.lease), Path(scratch))
            cluster.start(3)
            try:
                cluster.wait_until_all_registered()
                batch = 0
                for number in range(args.trials):
                    for fault in FAULTS:
                        sent = lambda: len(discord.messages) + len(slack.messages)  # noqa: E731
                        outcome = run_fault(
                            server, cluster, fault, batch, size=args.batch,
                            outage=args.stop_seconds, timeout=180.0, sent=sent,
                        )  # fmt: skip
                        batch += 1
                        results[fault].append(outcome)
                        print(f"trial {number + 1}: {outcome.line()}", flush=True)
            finally:
                cluster.stop()
            posted = {
                f"discord:{DISCORD_CHANNEL}": discord.arrivals(DISCORD_CHANNEL),
                f"slack:{CHANNEL_ID}": slack.arrivals(CHANNEL_ID),
            }
            lost, repeated, ordered = losses(queued_in_order(url), posted)
    finally:
        discord.stop()
        slack.stop()
        server.stop()
    for fault, outcomes in results.items():
        print(summary(fault, outcomes))
    total = sum(len(keys) for keys in posted.values())
    print(f"alerts posted {total}: lost {lost}, repeated {repeated}, in order {ordered}")


if __name__ == "__main__":
    main()

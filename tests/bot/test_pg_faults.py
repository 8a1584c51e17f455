"""Issue 18: replicas ride through PostgreSQL restarts, a stop and terminated sessions.

Two real replica processes (`tests.fakes.ha_replica`) on a PostgreSQL cluster of their own
(stopping it must not disturb the other tests), posting to the Discord and Slack stand-ins.
One after another: a fast restart, an immediate restart, a stop of a few seconds, and the
termination of every ordinary and lease session. Each strikes while a batch of alerts is
being sent. Asserted after each: no replica process died (none needs a restart), never two
leaders in the registry at one sample (50 ms apart), one leader again and posting again
within 5 s of the server's return, no replica stuck; at the end every alert arrived exactly
once per channel, in queue order. `bench/pg_faults.py` runs more trials and a 60 s stop.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.discord_api import FakeDiscord
from tests.fakes.ha_kit import Cluster, queued_in_order
from tests.fakes.kill_trials import CHANNEL_ID, DISCORD_CHANNEL
from tests.fakes.pg_faults import prepare, run_fault
from tests.fakes.slack_api import FakeSlack
from tests.pg_cluster import CRASH_SAFE, ClusterUnavailable, start_cluster
from tests.pg_cluster import Cluster as PgCluster

FAULTS = [
    "restart-fast",
    "restart-immediate",
    "stop",
    "terminate-ordinary",
    "terminate-lease",
]  # terminate-listen: bench/pg_faults.py (every restart above ends the LISTEN session too)


@pytest.fixture
def own_cluster(pg_cluster: PgCluster) -> Iterator[PgCluster]:
    # pg_cluster first: it skips (or fails under CI) with the reason when PostgreSQL is absent.
    try:
        server = start_cluster(CRASH_SAFE)
    except ClusterUnavailable as error:
        pytest.fail(f"a second PostgreSQL cluster did not start: {error}")
    yield server
    server.stop()


def env(discord: FakeDiscord, slack: FakeSlack) -> dict[str, str]:
    return {
        "ROTATION_LEADER_LEASE_SECONDS": "2",
        "DELIVERY_LEASE_SECONDS": "3",  # a claim cut off by the fault is looked up after 3 s
        "ROTATION_DIGEST_TIME": "19:00",  # after the frozen clock: no digest in the counts
        "ROTATION_LOG_LEVEL": "INFO",
        "DISCORD_BOT_TOKEN": discord.token,
        "DISCORD_CHANNEL_IDS": DISCORD_CHANNEL,
        "DISCORD_API_BASE": discord.api_base,
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_CHANNEL": CHANNEL_ID,
        "SLACK_API_URL": slack.api_url,
    }


def test_replicas_ride_through_restarts_a_stop_and_terminated_sessions(
    own_cluster: PgCluster, tmp_path: Path
) -> None:
    discord, slack = FakeDiscord(nonce_window=0.0), FakeSlack()
    discord.start()
    slack.start()
    url = own_cluster.new_database()
    prepare(url)
    cluster = Cluster(url, env(discord, slack), tmp_path)
    outcomes = []
    try:
        cluster.start(2)
        cluster.wait_until_all_registered()
        for batch, fault in enumerate(FAULTS):
            sent = lambda: len(discord.messages) + len(slack.messages)  # noqa: E731
            outcomes.append(
                run_fault(own_cluster, cluster, fault, batch, size=2, outage=2.0, sent=sent)
            )
            print(outcomes[-1].line())
        logs = cluster.logs()
    finally:
        cluster.stop()
        discord.stop()
        slack.stop()
    for outcome in outcomes:
        assert outcome.died == [], logs
        assert outcome.most_leaders == 1, outcome.line()  # never 2, and one again
        assert outcome.stuck == [], outcome.stuck
        assert outcome.leader_back < 5.0, outcome.line()
        # Posting resumes within 5 s; the rest of the batch follows Slack's 1 s pacing.
        assert outcome.resumed is None or outcome.resumed < 5.0, outcome.line()
        assert outcome.drained < 10.0, outcome.line()
    posted = {
        f"discord:{DISCORD_CHANNEL}": discord.arrivals(DISCORD_CHANNEL),
        f"slack:{CHANNEL_ID}": slack.arrivals(CHANNEL_ID),
    }
    assert posted == queued_in_order(url)  # none lost, none repeated, each channel in order
    assert "Traceback" not in logs

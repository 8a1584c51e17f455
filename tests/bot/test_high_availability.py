"""Issue 12 item 6: three replicas on one PostgreSQL, the leader killed during an evaluation,
then its successor hung past the lease and resumed; and the leader killed in a delivery pass.

Real processes (`tests.fakes.ha_replica`, `rotation-bot run`'s composition on a frozen
clock), a real throwaway PostgreSQL, the Discord and Slack stand-ins, the shared data. The
lease is 2 s. Counted: failover times (goals: 2 s after a kill, lease + 1 s after a hang),
one leader at the end, the new leader's catch-up, and the queued alerts against a reference
run of one replica on a copy of the same database: none repeated, none lost. Then what the
stand-ins received from all three replicas' senders (every replica sends, through the
outbox claims): each alert posted exactly once per channel, in the order it was queued.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from storage import service_state
from storage.db import open_db
from storage.outbox import enqueue_alerts
from tests.fakes.delivery_kit import make_event
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.ha_kit import (
    Cluster,
    copy_database,
    open_outbox_rows,
    outbox_rows,
    prepare_database,
    queued_in_order,
)
from tests.fakes.ha_trials import pid_of_peer
from tests.fakes.kill_trials import CHANNEL_ID, DISCORD_CHANNEL
from tests.fakes.slack_api import FakeSlack
from tests.pg_cluster import Cluster as PgCluster

LEASE = 2.0
LAST_SESSION = "2026-07-31"


@pytest.fixture
def stand_ins() -> Iterator[tuple[FakeDiscord, FakeSlack]]:
    # Discord's nonce is off: only the claims and the crash lookup may prevent a repeat (and the
    # reference run's nonces must not answer for the HA run's posts).
    discord, slack = FakeDiscord(nonce_window=0.0), FakeSlack()
    discord.start()
    slack.start()
    yield discord, slack
    discord.stop()
    slack.stop()


def replica_env(discord: FakeDiscord, slack: FakeSlack) -> dict[str, str]:
    return {
        "ROTATION_LEADER_LEASE_SECONDS": str(LEASE),
        "ROTATION_CATCHUP_ALERT_DAYS": "3650",  # every catch-up event is an alert to count
        "ROTATION_LOG_LEVEL": "INFO",
        "DISCORD_BOT_TOKEN": discord.token,
        "DISCORD_CHANNEL_IDS": DISCORD_CHANNEL,
        "DISCORD_API_BASE": discord.api_base,
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_CHANNEL": CHANNEL_ID,
        "SLACK_API_URL": slack.api_url,
    }


def wait_until(check: object, what: str, cluster: Cluster, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{cluster.logs()}"
        time.sleep(0.05)


def run_to_the_end(cluster: Cluster) -> None:
    wait_until(lambda: str(cluster.last_evaluated()) == LAST_SESSION, "the catch-up", cluster)
    # The catch-up's digest comes after its evaluations and queues rows of its own: a test
    # that stopped before it saw them queued but never posted.
    wait_until(lambda: str(digest_done(cluster.url)) == LAST_SESSION, "the digest", cluster)


def digest_done(url: str) -> object:
    db = open_db(url, migrate=False)
    try:
        return service_state.last_session_done(db, "digest")
    finally:
        db.close()


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def test_three_replicas_survive_a_killed_and_a_hung_leader(
    shared_data: Path, pg_cluster: PgCluster, tmp_path: Path, stand_ins: tuple
) -> None:
    discord, slack = stand_ins
    url = pg_cluster.new_database()
    prepare_database(url, shared_data, last_done=date(2026, 3, 31))  # April to July
    reference_url = pg_cluster.url(database_name(url) + "_reference")
    copy_database(pg_cluster.url("postgres"), database_name(url), database_name(reference_url))
    env = replica_env(discord, slack)

    reference = Cluster(reference_url, env, tmp_path)
    reference.start(1)
    try:
        run_to_the_end(reference)
    finally:
        reference.stop()
    expected = outbox_rows(reference_url)
    assert expected, "the reference catch-up queued no alert: nothing would be counted"
    discord.messages.clear()
    slack.messages.clear()

    cluster = Cluster(url, env, tmp_path / "ha")
    cluster.folder.mkdir()
    cluster.start(3)
    try:
        cluster.wait_until_all_registered()
        # Kill the leader in the middle of its catch-up (84 sessions, April to July).
        wait_until(lambda: cluster.evaluations_done() >= 40, "40 evaluations", cluster)
        killed, second, after_kill = cluster.failover_after(signal.SIGKILL)
        done_at_kill = cluster.evaluations_done()
        assert str(cluster.last_evaluated()) != LAST_SESSION, "killed after its catch-up"
        wait_until(lambda: "catching up" in cluster.by_pid(second).text(), "catch-up", cluster)

        # Hang the new leader longer than the lease, then let it go on.
        hung, third, after_hang = cluster.failover_after(signal.SIGSTOP)
        time.sleep(LEASE)
        cluster.by_pid(hung).process.send_signal(signal.SIGCONT)
        wait_until(lambda: "lost the leader lease" in cluster.by_pid(hung).text(), "fence", cluster)

        run_to_the_end(cluster)
        wait_until(lambda: open_outbox_rows(url) == 0, "every alert sent", cluster)
        time.sleep(1.0)  # a registry beat after the end
        leaders = cluster.leader_pids()
    finally:
        cluster.stop()

    print(
        f"failover after SIGKILL {after_kill:.2f} s, after SIGSTOP {after_hang:.2f} s "
        f"(lease {LEASE} s); killed after {done_at_kill} evaluation(s); "
        f"{len(expected)} alert row(s) expected; posts: discord {len(discord.messages)}, "
        f"slack {len(slack.messages)}"
    )
    assert after_kill < 2.0
    assert after_hang <= LEASE + 1.0
    assert leaders == [third], cluster.logs()
    assert outbox_rows(url) == expected  # each alert queued once per destination, none lost
    queued = Counter(outbox_rows(url))
    assert max(queued.values()) == 1
    assert killed != second != third
    posted = {
        f"discord:{DISCORD_CHANNEL}": discord.arrivals(DISCORD_CHANNEL),
        f"slack:{CHANNEL_ID}": slack.arrivals(CHANNEL_ID),
    }
    # Exactly once per channel and in queue order, whichever replica sent what.
    assert posted == queued_in_order(url)


class KillTheLeaderAtItsPost:
    """A stand-in hook: SIGKILL the leader as a post of its is accepted, before the answer.

    The leader dies in the middle of a delivery pass with the outcome of that post unknown to
    it: its claim must expire and another replica must find the post instead of repeating it.
    """

    def __init__(self, cluster: Cluster) -> None:
        self.cluster, self.killed, self.lock = cluster, 0, threading.Lock()

    def on_post(self, peer_port: int) -> bool:
        with self.lock:
            if self.killed:
                return True
            leaders = self.cluster.leader_pids()
            if not leaders or pid_of_peer(peer_port, leaders) != leaders[0]:
                return True  # a follower's post (every replica sends): let it through
            os.kill(leaders[0], signal.SIGKILL)
            self.killed = leaders[0]
            return False


def queue_more(url: str, batch: int) -> None:
    """Three more alerts for both channels, so the leader gets another chance to post."""
    events = [make_event(rule=f"extra_{batch:02d}_{n}") for n in range(3)]
    db = open_db(url)
    try:
        enqueue_alerts(db, events, [f"discord:{DISCORD_CHANNEL}", f"slack:{CHANNEL_ID}"])
    finally:
        db.close()


def test_the_leader_killed_in_a_delivery_pass_loses_and_repeats_nothing(
    shared_data: Path, pg_cluster: PgCluster, tmp_path: Path, stand_ins: tuple
) -> None:
    discord, slack = stand_ins
    url = pg_cluster.new_database()
    prepare_database(url, shared_data, last_done=date(2026, 3, 31))
    # A short claim lease: the dead leader's claim expires soon, and the row is looked up then.
    env = replica_env(discord, slack) | {"DELIVERY_LEASE_SECONDS": "5"}
    cluster = Cluster(url, env, tmp_path)
    hook = KillTheLeaderAtItsPost(cluster)
    discord.on_accept = slack.on_accept = hook.on_post
    cluster.start(3)
    try:
        for batch in range(20):  # the followers send too: give the leader chances to post
            wait_until(lambda: hook.killed or open_outbox_rows(url) == 0, "a post", cluster)
            if hook.killed:
                break
            queue_more(url, batch)
        assert hook.killed, "the leader posted nothing in 20 batches:\n" + cluster.logs()
        successor = cluster.wait_for_leader(other_than=hook.killed)
        run_to_the_end(cluster)
        wait_until(lambda: open_outbox_rows(url) == 0, "every alert sent", cluster)
    finally:
        cluster.stop()

    assert successor != hook.killed
    posted = {
        f"discord:{DISCORD_CHANNEL}": discord.arrivals(DISCORD_CHANNEL),
        f"slack:{CHANNEL_ID}": slack.arrivals(CHANNEL_ID),
    }
    assert posted == queued_in_order(url)  # none lost, none repeated, each channel in order

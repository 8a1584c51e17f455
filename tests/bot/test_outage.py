"""Outages pause a destination instead of draining its queue (issue 10, item 2).

The real discord.py and slack_sdk clients talk to the local stand-ins, which fail with 503
(Discord) or refuse connections (Slack) for ten simulated minutes on an injected clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from bot.delivery.discord import DiscordBotNotifier, DiscordRest
from bot.delivery.discord_limits import GLOBAL_INTERVAL
from bot.delivery.sender import DeliveryPolicy, deliver_pending
from bot.delivery.slack import SlackBotNotifier
from storage.outbox import enqueue_alerts, list_outbox
from storage.outbox_health import destination_pauses
from tests.fakes.delivery_kit import T0, FakeClock, make_event
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.slack_api import CHANNEL_ID, FakeSlack

CHANNEL = "123456789012345678"
OUTAGE = timedelta(minutes=10)
ALERTS = 20
# A pass that waits as long as it takes (the service polls every 30 s instead; same outcome).
POLICY = DeliveryPolicy(max_age_hours=6.0, base_delay=2.0, max_wait=3600.0)


@pytest.fixture
def notifiers(fake_discord: FakeDiscord, fake_slack: FakeSlack) -> Iterator[list]:
    rest = DiscordRest(fake_discord.token, api_base=fake_discord.api_base)
    slack = SlackBotNotifier(fake_slack.token, CHANNEL_ID, api_base=fake_slack.api_url)
    yield [DiscordBotNotifier(rest, CHANNEL), slack]
    rest.close()


class Outage:
    """Both stand-ins fail from T0 for `OUTAGE`; the injected sleep ends it on time."""

    def __init__(self, discord: FakeDiscord, slack: FakeSlack) -> None:
        self.discord, self.slack, self.clock = discord, slack, FakeClock()
        self.ends_at = T0 + OUTAGE
        self.attempts_at_recovery: list[int] | None = None
        self.discord.down_status = 503
        self.slack.go_down()

    def sleep(self, seconds: float, db) -> None:
        self.clock.sleep(seconds)
        if self.attempts_at_recovery is None and self.clock.now() >= self.ends_at:
            # The servers only matter when called: being back from here on is being back at
            # `ends_at`, since nothing was sent in between.
            self.attempts_at_recovery = attempts_by_destination(db)
            self.discord.down_status = None
            self.slack.come_back()


def attempts_by_destination(db) -> dict[str, list[int]]:
    """Each destination's rows' attempts, in queue order."""
    tries: dict[str, list[int]] = {}
    for row in list_outbox(db):
        tries.setdefault(row["destination"], []).append(row["attempts"])
    return tries


def test_ten_minute_outage_kills_no_alert_and_drains_within_a_minute_after(
    fresh_db, fake_discord, fake_slack, notifiers
):
    events = [make_event(day) for day in range(1, ALERTS + 1)]
    enqueue_alerts(fresh_db, events, [n.name for n in notifiers], now=T0)
    outage = Outage(fake_discord, fake_slack)
    report = deliver_pending(
        fresh_db,
        notifiers,
        now=outage.clock.now,
        sleep=lambda seconds: outage.sleep(seconds, fresh_db),
        policy=POLICY,
        rng=lambda: 0.5,
    )
    rows = list_outbox(fresh_db)
    assert report.dead == 0 and report.delivered == 2 * ALERTS
    assert all(row["status"] == "delivered" for row in rows)
    # During the outage only each destination's head row probed; the rest spent nothing.
    attempts = outage.attempts_at_recovery
    assert attempts is not None
    probes = [tries[0] for tries in attempts.values()]
    assert all(tries[1:] == [0] * (ALERTS - 1) for tries in attempts.values())
    # Probes at 0, 2, 6, 14, 30, 62 s, then one a minute: 14 in 10 minutes, and no alert dead.
    assert probes == [14, 14], probes
    assert fake_discord.failed_in_outage == 14  # one request per probe (the login)
    # Every alert posted once, in order, within 80 s of the end of the outage: at most a
    # minute until the next probe, then the queue at the platforms' pace (Slack ~1/s).
    keys = [e.dedupe_key for e in events]
    assert [m.embed["footer"]["text"].split("alert ")[1] for m in fake_discord.messages] == keys
    slack_keys = [m.payload["metadata"]["event_payload"]["alert_key"] for m in fake_slack.messages]
    assert slack_keys == keys
    drained = max(datetime.fromisoformat(row["delivered_at"]) for row in rows)
    # Discord's posts also keep the bot token's shared global pace (50 a second): 19 gaps.
    paced = timedelta(seconds=21) + 19 * timedelta(seconds=GLOBAL_INTERVAL)
    assert drained - outage.ends_at == paced, drained - outage.ends_at
    assert destination_pauses(fresh_db) == {}


def test_the_backoff_belongs_to_the_destination_not_the_row(fresh_db, fake_discord, notifiers):
    """A head that gives up by age hands the outage to the next row: no fresh burst of probes."""
    discord = notifiers[0]
    old_enough_to_die_in_5_minutes = T0 - timedelta(hours=6) + timedelta(minutes=5)
    enqueue_alerts(fresh_db, [make_event(1)], [discord.name], now=old_enough_to_die_in_5_minutes)
    enqueue_alerts(fresh_db, [make_event(2)], [discord.name], now=T0)
    fake_discord.down_status = 503
    clock = FakeClock(T0)
    policy = DeliveryPolicy(max_age_hours=6.0, base_delay=2.0, max_wait=0.0)
    for _ in range(2 * 15):  # the service's polls, every 30 s, for 15 minutes
        deliver_pending(
            fresh_db, [discord], now=clock.now, sleep=clock.sleep, policy=policy, rng=lambda: 0.5
        )
        clock.sleep(30)
    first, second = list_outbox(fresh_db)
    assert first["status"] == "dead" and first["last_error"].startswith("not delivered within 6 h")
    assert second["status"] == "pending"
    pause = destination_pauses(fresh_db)[discord.name]
    # One outage since T0, its failures counted across both rows and 30 passes ...
    assert pause.failing_since == T0
    assert pause.failures == first["attempts"] + second["attempts"]
    # ... so the second row, head from minute 5.5, probes once a minute from the start: 9 in
    # 9.5 minutes (a backoff of its own would begin again at 2 s: a probe at each of its first
    # five polls, 12 in that time).
    assert second["attempts"] == 9, second["attempts"]


def test_permanent_error_during_an_outage_is_dead_at_once_and_the_queue_moves_on(
    fresh_db, fake_discord, notifiers
):
    discord = notifiers[0]
    enqueue_alerts(fresh_db, [make_event(1), make_event(2)], [discord.name], now=T0)
    fake_discord.fail_next(503)
    fake_discord.fail_next(403)  # missing permission for this post
    clock = FakeClock()
    report = deliver_pending(fresh_db, [discord], now=clock.now, sleep=clock.sleep, policy=POLICY)
    first, second = list_outbox(fresh_db)
    assert (first["status"], first["attempts"]) == ("dead", 2)
    assert "403" in first["last_error"]
    assert second["status"] == "delivered" and (report.dead, report.delivered) == (1, 1)
    assert destination_pauses(fresh_db) == {}

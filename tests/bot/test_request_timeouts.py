"""Issue 18: every platform request is bounded; a post that timed out is looked up, not repeated.

The stand-ins store the post and then never answer (until the test ends): a platform that
accepted the message while its answer was lost. discord.py alone would wait 300 s (aiohttp's
default total timeout); with ROTATION_REQUEST_TIMEOUT_SECONDS (1 s here) the sender moves on,
pauses the destination like any timeout, and the next attempt finds the post in the channel
instead of posting it again (Discord's nonce is off, so only the lookup can prevent a repeat).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from bot.config import load_settings
from bot.delivery.discord import DiscordBotNotifier, DiscordRest
from bot.delivery.sender import DeliveryPolicy, deliver_pending
from bot.delivery.slack import SlackBotNotifier, build_channel_notifiers
from storage.outbox import enqueue_alerts, list_outbox
from tests.fakes.delivery_kit import T0, FakeClock, make_event
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.slack_api import FakeSlack

CHANNEL, SLACK_CHANNEL = "123456789012345678", "C0ALERTS1"
POLICY = DeliveryPolicy(max_age_hours=6.0, base_delay=2.0, lease_seconds=60.0, max_wait=600.0)


class NeverAnswersFirst:
    """`on_accept`: the first post is stored, then its answer never comes (the stand-in holds
    the connection open without a word until the test ends; the client has given up)."""

    def __init__(self) -> None:
        self.release, self.held = threading.Event(), 0

    def __call__(self, peer_port: int) -> bool:
        self.held += 1
        return self.held > 1


@pytest.fixture
def silent() -> Iterator[NeverAnswersFirst]:
    hook = NeverAnswersFirst()
    yield hook
    hook.release.set()


def deliver_timed(db, notifier, policy=POLICY) -> tuple[object, float]:
    clock, started = FakeClock(), time.monotonic()
    report = deliver_pending(db, [notifier], now=clock.now, sleep=clock.sleep, policy=policy)
    return report, time.monotonic() - started


def test_a_discord_post_never_answered_times_out_and_is_found_not_reposted(
    fresh_db, silent: NeverAnswersFirst
) -> None:
    fake = FakeDiscord(nonce_window=0.0).start()
    fake.on_accept, fake.hold_unanswered = silent, silent.release
    rest = DiscordRest(fake.token, api_base=fake.api_base, timeout=1.0)
    enqueue_alerts(fresh_db, [make_event()], [f"discord:{CHANNEL}"], now=T0)
    try:
        report, seconds = deliver_timed(fresh_db, DiscordBotNotifier(rest, CHANNEL))
    finally:
        silent.release.set()
        rest.close()
        fake.stop()
    assert seconds < 15  # one 1 s timeout and a lookup, not discord.py's 300 s
    assert report.delivered == 1
    assert [o for o in report.outcomes if "timeout" in str(o).lower()], report.outcomes
    assert len([r for r in fake.requests if r[0] == "POST"]) == 1  # found, not posted again
    (row,) = list_outbox(fresh_db)
    assert (row["status"], row["message_id"]) == ("delivered", fake.messages[0].id)


def test_a_slack_post_never_answered_times_out_and_is_found_not_reposted(
    fresh_db, silent: NeverAnswersFirst
) -> None:
    fake = FakeSlack().start()
    fake.on_accept, fake.hold_unanswered = silent, silent.release
    notifier = SlackBotNotifier(fake.token, SLACK_CHANNEL, api_base=fake.api_url, timeout=1.0)
    enqueue_alerts(fresh_db, [make_event()], [f"slack:{SLACK_CHANNEL}"], now=T0)
    try:
        report, seconds = deliver_timed(fresh_db, notifier)
    finally:
        silent.release.set()
        fake.stop()
    assert seconds < 15
    assert report.delivered == 1
    assert len(fake.messages) == 1  # found in the history, not posted again
    (row,) = list_outbox(fresh_db)
    assert row["status"] == "delivered" and row["attempts"] == 2


def test_the_timeout_setting_reaches_every_client() -> None:
    settings = load_settings(
        None, request_timeout_seconds=7, slack_bot_token="xoxb-1", slack_channel="C1",
        slack_webhook_url="https://hooks.slack.com/services/T/B/X",
    )  # fmt: skip
    bot, hook = build_channel_notifiers(settings)
    assert bot.client.timeout == 7 and hook.client.timeout == 7  # type: ignore[attr-defined]

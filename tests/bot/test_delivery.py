"""The sender end to end: outbox -> real discord.py / slack_sdk clients -> local fake platforms."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from pydantic import SecretStr
from rich.console import Console

from bot.config import load_settings
from bot.delivery.console import ConsoleNotifier
from bot.delivery.destinations import build_notifiers, close_notifiers
from bot.delivery.discord import DiscordBotNotifier, DiscordRest
from bot.delivery.enqueue import enqueue_and_deliver
from bot.delivery.message import (
    AlertMessage,
    Broadcaster,
    DeliveryResult,
    TransientError,
    build_alert_message,
)
from bot.delivery.sender import DeliveryPolicy, backoff_delay, deliver_pending
from bot.delivery.slack import SlackBotNotifier, SlackWebhookNotifier
from signals.models import MarketData
from storage.db import open_db
from storage.outbox import enqueue_alerts, list_outbox
from tests.fakes.delivery_kit import PNG, T0, FakeClock, make_event
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.kill_trials import run_killed_sender
from tests.fakes.slack_api import CHANNEL_ID, FakeSlack

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHANNEL = "123456789012345678"
POLICY = DeliveryPolicy(max_age_hours=6.0, base_delay=2.0, lease_seconds=60.0, max_wait=600.0)


@pytest.fixture
def discord_notifier(fake_discord: FakeDiscord) -> Iterator[DiscordBotNotifier]:
    rest = DiscordRest(fake_discord.token, api_base=fake_discord.api_base)
    yield DiscordBotNotifier(rest, CHANNEL)
    rest.close()


@pytest.fixture
def slack_notifier(fake_slack: FakeSlack) -> SlackBotNotifier:
    return SlackBotNotifier(fake_slack.token, CHANNEL_ID, api_base=fake_slack.api_url)


def deliver(db, notifiers, clock: FakeClock, policy: DeliveryPolicy = POLICY):
    return deliver_pending(
        db, notifiers, now=clock.now, sleep=clock.sleep, policy=policy, rng=lambda: 0.5
    )


def statuses(db) -> list[tuple[str, str, str]]:
    return [(r["destination"], r["dedupe_key"], r["status"]) for r in list_outbox(db)]


def test_normal_delivery_with_chart_reaches_discord_and_slack(
    fresh_db, fake_discord, fake_slack, discord_notifier, slack_notifier
):
    event = make_event()
    notifiers = [discord_notifier, slack_notifier]
    enqueue_alerts(
        fresh_db, [event], [n.name for n in notifiers], charts={event.dedupe_key: PNG}, now=T0
    )
    report = deliver(fresh_db, notifiers, FakeClock())
    assert (report.delivered, report.retried, report.dead) == (2, 0, 0)
    [posted] = fake_discord.messages
    assert posted.files == {"chart.png": PNG}
    assert posted.embed["image"]["url"] == "attachment://chart.png"
    assert posted.embed["footer"]["text"] == f"rule iwc_over_oef_ytd · alert {event.dedupe_key}"
    [slack_post] = fake_slack.messages
    assert slack_post.files[0]["bytes"] == PNG
    assert slack_post.payload["metadata"]["event_payload"] == {"alert_key": event.dedupe_key}
    rows = {r["destination"]: r for r in list_outbox(fresh_db)}
    assert rows[f"discord:{CHANNEL}"]["message_id"] == posted.id
    assert rows[f"slack:{CHANNEL_ID}"]["message_id"] == slack_post.ts
    assert all(r["status"] == "delivered" and r["attempts"] == 1 for r in rows.values())


def test_second_run_sends_nothing_again(fresh_db, fake_discord, discord_notifier):
    enqueue_alerts(fresh_db, [make_event()], [discord_notifier.name], now=T0)
    clock = FakeClock()
    deliver(fresh_db, [discord_notifier], clock)
    enqueue_alerts(fresh_db, [make_event()], [discord_notifier.name], now=T0)
    assert deliver(fresh_db, [discord_notifier], clock).delivered == 0
    assert len(fake_discord.messages) == 1


def test_stop_ends_the_pass_after_the_send_in_flight(fresh_db, fake_discord, discord_notifier):
    events = [make_event(day) for day in (18, 19, 20)]
    enqueue_alerts(fresh_db, events, [discord_notifier.name], now=T0)
    clock = FakeClock()
    report = deliver_pending(
        fresh_db,
        [discord_notifier],
        now=clock.now,
        sleep=clock.sleep,
        policy=POLICY,
        stop=lambda: len(fake_discord.messages) > 0,  # shutdown asked during the first post
    )
    assert report.delivered == 1
    assert [r["status"] for r in list_outbox(fresh_db)] == ["delivered", "pending", "pending"]
    assert deliver(fresh_db, [discord_notifier], clock).delivered == 2
    assert len(fake_discord.messages) == 3


def test_discord_429_waits_for_the_platforms_retry_after(fresh_db, fake_discord, discord_notifier):
    enqueue_alerts(fresh_db, [make_event()], [discord_notifier.name], now=T0)
    fake_discord.fail_next(429, retry_after=45.0)
    clock = FakeClock()
    report = deliver(fresh_db, [discord_notifier], clock)
    assert clock.sleeps == [45.0]
    assert (report.delivered, report.retried) == (1, 1)
    assert len(fake_discord.messages) == 1
    [row] = list_outbox(fresh_db)
    assert (row["status"], row["attempts"]) == ("delivered", 1)  # a 429 is not a failed attempt


def test_discord_short_429_is_waited_out_by_the_client(fresh_db, fake_discord, discord_notifier):
    """discord.py itself sleeps through waits up to 30 s and retries; the row sees one attempt."""
    enqueue_alerts(fresh_db, [make_event()], [discord_notifier.name], now=T0)
    fake_discord.fail_next(429, retry_after=0.05)
    clock = FakeClock()
    report = deliver(fresh_db, [discord_notifier], clock)
    assert (report.delivered, report.retried, clock.sleeps) == (1, 0, [])
    assert len([r for r in fake_discord.requests if r[0] == "POST"]) == 2
    assert len(fake_discord.messages) == 1


def test_slack_429_waits_for_retry_after_header(fresh_db, fake_slack, slack_notifier):
    enqueue_alerts(fresh_db, [make_event()], [slack_notifier.name], now=T0)
    fake_slack.fail_next(429, retry_after=7)
    clock = FakeClock()
    report = deliver(fresh_db, [slack_notifier], clock)
    assert clock.sleeps == [7.0]
    assert report.delivered == 1 and len(fake_slack.messages) == 1


def test_5xx_then_recovery_loses_nothing_duplicates_nothing_keeps_order(
    fresh_db, fake_discord, fake_slack, discord_notifier, slack_notifier
):
    events = [make_event(day) for day in (17, 18, 19, 20)]
    notifiers = [discord_notifier, slack_notifier]
    enqueue_alerts(fresh_db, events, [n.name for n in notifiers], now=T0)
    fake_discord.fail_next(503, times=2)
    fake_slack.fail_next(500, times=1)
    clock = FakeClock()
    report = deliver(fresh_db, notifiers, clock)
    assert (report.delivered, report.dead) == (8, 0)
    expected = [e.dedupe_key for e in events]
    assert [m.embed["footer"]["text"].split("alert ")[1] for m in fake_discord.messages] == expected
    slack_keys = [m.payload["metadata"]["event_payload"]["alert_key"] for m in fake_slack.messages]
    assert slack_keys == expected
    # Exponential backoff (jitter fixed at 1.0x): retries 2 s and then 4 s later, so the first
    # Discord alert goes out on its third attempt no sooner than 6 s after the first.
    first = list_outbox(fresh_db)[0]
    assert (first["destination"], first["attempts"]) == (f"discord:{CHANNEL}", 3)
    assert datetime.fromisoformat(first["delivered_at"]) >= T0 + timedelta(seconds=6)
    assert clock.sleeps[0] == 2.0
    # Slack is paced at about one message per second.
    assert clock.sleeps.count(1.0) >= 2


def test_failure_after_acceptance_is_found_not_reposted(fresh_db, fake_slack, slack_notifier):
    enqueue_alerts(fresh_db, [make_event()], [slack_notifier.name], now=T0)
    fake_slack.fail_after_accept = 1
    report = deliver(fresh_db, [slack_notifier], FakeClock())
    assert (report.retried, report.delivered) == (1, 1)
    assert len(fake_slack.messages) == 1
    assert list_outbox(fresh_db)[0]["message_id"] == fake_slack.messages[0].ts


def test_dead_destination_never_blocks_a_working_one(
    fresh_db, fake_discord, discord_notifier, caplog
):
    down = SlackBotNotifier("xoxb-secret-token-123", CHANNEL_ID, api_base="http://127.0.0.1:9/api/")
    events = [make_event(19), make_event(20)]
    enqueue_alerts(fresh_db, events, [discord_notifier.name, down.name], now=T0)
    clock = FakeClock()
    with caplog.at_level(logging.WARNING):
        report = deliver(fresh_db, [down, discord_notifier], clock)
    assert len(fake_discord.messages) == 2
    assert report.delivered == 2
    # Issue 10: an outage pauses the destination; only its head row probes, nothing dies yet.
    rows = [r for r in list_outbox(fresh_db) if r["destination"] == down.name]
    assert [r["status"] for r in rows] == ["pending", "pending"]
    assert rows[0]["attempts"] > 4 and rows[1]["attempts"] == 0
    assert "cannot reach Slack" in rows[0]["last_error"]
    assert f"{down.name} is failing" in caplog.text
    clock.moment = T0 + timedelta(hours=6, seconds=1)  # they give up by age, with the reason
    assert deliver(fresh_db, [down, discord_notifier], clock).dead == 2
    rows = [r for r in list_outbox(fresh_db) if r["destination"] == down.name]
    assert [r["status"] for r in rows] == ["dead", "dead"]
    assert rows[0]["last_error"].startswith("not delivered within 6 h (last error: cannot reach")
    assert "xoxb-secret" not in caplog.text


def test_rejected_payload_is_dead_at_once_and_the_next_alert_still_goes(
    fresh_db, fake_discord, fake_slack
):
    rest = DiscordRest("wrong-token", api_base=fake_discord.api_base)
    bad = DiscordBotNotifier(rest, CHANNEL)
    try:
        enqueue_alerts(fresh_db, [make_event()], [bad.name], now=T0)
        report = deliver(fresh_db, [bad], FakeClock())
    finally:
        rest.close()
    assert report.dead == 1
    [row] = list_outbox(fresh_db)
    assert (row["status"], row["attempts"]) == ("dead", 1)
    assert "401" in row["last_error"] and "wrong-token" not in row["last_error"]


def test_unconfigured_destination_waits_visibly(fresh_db, caplog):
    enqueue_alerts(fresh_db, [make_event()], ["discord:999"], now=T0)
    console = ConsoleNotifier(Console(file=io.StringIO()))
    with caplog.at_level(logging.WARNING):
        report = deliver(fresh_db, [console], FakeClock())
    assert report.delivered == 0
    assert statuses(fresh_db)[0][2] == "pending"
    assert "discord:999, which is not configured" in caplog.text


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    assert [backoff_delay(n, 2.0, rng=lambda: 0.5) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert backoff_delay(3, 2.0, rng=lambda: 0.0) == 4.0
    assert backoff_delay(3, 2.0, rng=lambda: 0.999) == pytest.approx(11.99, abs=0.01)
    assert backoff_delay(40, 2.0) == 900.0


def test_enqueue_and_deliver_renders_the_chart_and_prints_to_console(fresh_db):
    index = pd.bdate_range("2026-01-02", "2026-11-20")

    def frame(start: float) -> pd.DataFrame:
        return pd.DataFrame({"adj_close": [start + i * 0.1 for i in range(len(index))]}, index)

    market = MarketData(prices={"IWC": frame(50.0), "OEF": frame(200.0)})
    out = io.StringIO()
    console = ConsoleNotifier(Console(file=out, width=100))
    report = enqueue_and_deliver(fresh_db, [make_event()], [console], market, now=lambda: T0)
    assert report.delivered == 1
    assert "IWC overtook OEF YTD" in out.getvalue()
    chart = fresh_db.execute("SELECT chart FROM outbox_alerts").fetchone()[0]
    assert chart.startswith(b"\x89PNG")
    again = enqueue_and_deliver(fresh_db, [make_event()], [console], market, now=lambda: T0)
    assert again.delivered == 0


def test_broadcaster_isolates_a_failing_notifier(caplog):
    class Broken:
        name, min_interval = "broken", 0.0

        def send(self, message, *, idempotency_key):
            raise RuntimeError("boom")

        def find_existing(self, idempotency_key, *, since):
            return None

    out = io.StringIO()
    console = ConsoleNotifier(Console(file=out))
    message = build_alert_message(make_event())
    with caplog.at_level(logging.WARNING):
        results = Broadcaster([Broken(), console]).send(message, idempotency_key=message.key)
    assert isinstance(results["broken"], TransientError)
    assert isinstance(results["console"], DeliveryResult)
    assert "delivery to broken failed" in caplog.text
    assert "IWC overtook" in out.getvalue()


# --- The crash case: the platform accepted the message, the sender died before recording it.


def after_lease() -> FakeClock:
    return FakeClock(datetime.now(UTC) + timedelta(minutes=2))


def test_discord_kill_between_acceptance_and_record_posts_once(db_path, fake_discord):
    db = open_db(db_path)
    event = make_event()
    name = f"discord:{CHANNEL}"
    enqueue_alerts(db, [event], [name], charts={event.dedupe_key: PNG})
    env = {
        "DISCORD_BOT_TOKEN": fake_discord.token,
        "DISCORD_CHANNEL_IDS": CHANNEL,
        "DISCORD_API_BASE": fake_discord.api_base,
    }
    run_killed_sender(db_path, fake_discord, env, pace=True)
    assert len(fake_discord.messages) == 1
    assert statuses(db) == [(name, event.dedupe_key, "sending")]
    rest = DiscordRest(fake_discord.token, api_base=fake_discord.api_base)
    try:
        report = deliver(db, [DiscordBotNotifier(rest, CHANNEL)], after_lease())
    finally:
        rest.close()
    assert report.delivered == 1
    assert len(fake_discord.messages) == 1
    posts = [r for r in fake_discord.requests if r[0] == "POST"]
    assert len(posts) == 1  # found in the channel history, not posted again
    [row] = list_outbox(db)
    assert (row["status"], row["message_id"]) == ("delivered", fake_discord.messages[0].id)


def test_discord_nonce_stops_a_repost_the_history_missed(db_path, fake_discord):
    """Even when the lookup finds nothing, the enforced nonce returns the original message."""
    db = open_db(db_path)
    event = make_event()
    enqueue_alerts(db, [event], [f"discord:{CHANNEL}"])
    env = {
        "DISCORD_BOT_TOKEN": fake_discord.token,
        "DISCORD_CHANNEL_IDS": CHANNEL,
        "DISCORD_API_BASE": fake_discord.api_base,
    }
    run_killed_sender(db_path, fake_discord, env, pace=True)
    fake_discord.hide_history = True  # the platform's history lags behind
    rest = DiscordRest(fake_discord.token, api_base=fake_discord.api_base)
    try:
        deliver(db, [DiscordBotNotifier(rest, CHANNEL)], after_lease())
    finally:
        rest.close()
    assert len(fake_discord.messages) == 1
    assert len([r for r in fake_discord.requests if r[0] == "POST"]) == 2  # re-sent, deduped
    assert list_outbox(db)[0]["message_id"] == fake_discord.messages[0].id


def test_slack_kill_between_acceptance_and_record_posts_once(db_path, fake_slack):
    db = open_db(db_path)
    event = make_event()
    name = f"slack:{CHANNEL_ID}"
    enqueue_alerts(db, [event], [name])
    env = {
        "SLACK_BOT_TOKEN": fake_slack.token,
        "SLACK_CHANNEL": CHANNEL_ID,
        "SLACK_API_URL": fake_slack.api_url,
    }
    run_killed_sender(db_path, fake_slack, env, pace=True)
    assert len(fake_slack.messages) == 1
    assert statuses(db) == [(name, event.dedupe_key, "sending")]
    notifier = SlackBotNotifier(fake_slack.token, CHANNEL_ID, api_base=fake_slack.api_url)
    report = deliver(db, [notifier], after_lease())
    assert report.delivered == 1
    assert len(fake_slack.messages) == 1
    assert fake_slack.requests.count("/api/chat.postMessage") == 1
    assert "/api/conversations.history" in fake_slack.requests
    assert list_outbox(db)[0]["message_id"] == fake_slack.messages[0].ts


def test_webhook_outcome_unknown_is_sent_again_at_least_once(fresh_db, fake_slack, caplog):
    notifier = SlackWebhookNotifier(fake_slack.webhook_url)
    enqueue_alerts(fresh_db, [make_event()], [notifier.name], now=T0)
    fresh_db.execute("UPDATE outbox SET status = 'sending'")  # as a killed sender leaves it
    with caplog.at_level(logging.WARNING):
        report = deliver(fresh_db, [notifier], FakeClock())
    assert report.delivered == 1
    assert "unknown and not found" in caplog.text
    assert "fakewebhooksecret" not in caplog.text


def test_alert_message_is_built_once_from_the_event():
    message = build_alert_message(make_event(), PNG)
    assert isinstance(message, AlertMessage)
    # The rule's own fields, each stated once (no generic Measure/Threshold repeating them).
    assert message.fields == make_event().fields
    assert message.headline == "▲ IWC overtook OEF YTD"
    assert message.with_mentions(["42"]).mentions == ("42",)


def test_an_event_without_fields_shows_measure_and_threshold_distinctly():
    event = replace(make_event(), fields=(), measure=0.3633, threshold=0.36, unit="")
    assert build_alert_message(event).fields == (("Measure", "0.363"), ("Threshold", "0.360"))


def test_build_notifiers_from_settings(fake_discord, fake_slack):
    settings = load_settings(env_file=None)
    [console] = build_notifiers(settings)
    assert console.name == "console"
    settings = load_settings(
        env_file=None,
        discord_bot_token=SecretStr(fake_discord.token),
        discord_channel_ids=("1", "2"),
        discord_webhook_url=SecretStr(
            "https://discord.com/api/webhooks/112233445566778899/" + "t" * 68
        ),
        discord_api_base=fake_discord.api_base,
        slack_bot_token=SecretStr(fake_slack.token),
        slack_channel=CHANNEL_ID,
        slack_webhook_url=SecretStr(fake_slack.webhook_url),
        slack_api_url=fake_slack.api_url,
    )
    notifiers = build_notifiers(settings)
    try:
        names = [n.name for n in notifiers]
    finally:
        close_notifiers(notifiers)
    assert names == [
        "discord:1",
        "discord:2",
        "discord:webhook:112233445566778899",
        f"slack:{CHANNEL_ID}",
        "slack:webhook",
    ]

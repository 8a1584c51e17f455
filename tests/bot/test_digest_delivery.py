"""The daily digest goes through the outbox: once per session and destination, retried,
exactly once with bot tokens even when the sender dies after the platform accepted it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import Settings, load_settings
from bot.delivery.digest import queue_digest, send_digest
from bot.delivery.discord import DiscordBotNotifier, DiscordRest
from bot.delivery.sender import DeliveryPolicy, deliver_pending
from bot.delivery.slack import SlackBotNotifier
from bot.service.jobs import ServiceJobs
from storage.db import open_db
from storage.outbox import list_outbox
from tests.bot.test_digest import NOW, SESSION, seed
from tests.fakes.delivery_kit import FakeClock
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.kill_trials import DISCORD_CHANNEL, run_killed_sender
from tests.fakes.slack_api import CHANNEL_ID, FakeSlack

KEY = f"digest:{SESSION.isoformat()}"
RETRYING = DeliveryPolicy(max_age_hours=6.0, base_delay=2.0, lease_seconds=60.0, max_wait=600.0)


def settings_for(fake_discord: FakeDiscord, fake_slack: FakeSlack, db_path: Path) -> Settings:
    return load_settings(
        None,
        db_path=db_path,
        discord_bot_token=SecretStr(fake_discord.token),
        discord_channel_ids=(DISCORD_CHANNEL,),
        discord_api_base=fake_discord.api_base,
        slack_bot_token=SecretStr(fake_slack.token),
        slack_channel=CHANNEL_ID,
        slack_api_url=fake_slack.api_url,
    )


def discord_digests(fake: FakeDiscord) -> list[str]:
    return [m.embed["footer"]["text"] for m in fake.messages if KEY in m.embed["footer"]["text"]]


def slack_digests(fake: FakeSlack) -> list[str]:
    return [
        m.ts for m in fake.messages if m.payload["metadata"]["event_payload"]["alert_key"] == KEY
    ]


def test_digest_reaches_both_platforms_once_per_session(fresh_db, fake_discord, fake_slack, rest):
    seed(fresh_db)
    notifiers = [
        DiscordBotNotifier(rest, DISCORD_CHANNEL),
        SlackBotNotifier(fake_slack.token, CHANNEL_ID, api_base=fake_slack.api_url),
    ]
    settings = load_settings(None)
    clock = FakeClock(NOW)
    summary = send_digest(fresh_db, settings, SESSION, NOW, notifiers, clock=clock.now)
    assert summary == "digest posted to 2, failed: none"
    [posted] = fake_discord.messages
    assert posted.embed["title"].startswith("● Daily rotation digest 2025-03-31")
    assert list(posted.files) == ["chart.png"]
    [slack_post] = fake_slack.messages
    assert [f["filename"] for f in slack_post.files] == ["chart.png"]  # threaded, as alerts
    # The leaderboard reaches both platforms as a fenced, fixed-width block.
    board = next(f["value"] for f in posted.embed["fields"] if f["name"] == "Leaderboard")
    assert board.startswith("```\nIWC ") and board.endswith("\n```")
    slack_fields = [f["text"] for b in slack_post.payload["blocks"] for f in b.get("fields", [])]
    assert any(text.startswith("*Leaderboard*\n```\nIWC ") for text in slack_fields)
    again = send_digest(fresh_db, settings, SESSION, NOW, notifiers, clock=clock.now)
    assert again == "digest posted to 0, failed: none"
    assert (len(fake_discord.messages), len(fake_slack.messages)) == (1, 1)
    rows = list_outbox(fresh_db)
    assert [(r["dedupe_key"], r["status"]) for r in rows] == [(KEY, "delivered")] * 2
    assert rows[0]["title"].startswith("Daily rotation digest 2025-03-31")


def test_failing_destination_keeps_the_digest_and_a_later_pass_delivers_it(
    fresh_db, fake_discord, fake_slack, rest
):
    seed(fresh_db)
    discord = DiscordBotNotifier(rest, DISCORD_CHANNEL)
    slack = SlackBotNotifier(fake_slack.token, CHANNEL_ID, api_base=fake_slack.api_url)
    fake_discord.fail_next(503, times=2)
    clock = FakeClock(NOW)
    summary = send_digest(
        fresh_db, load_settings(None), SESSION, NOW, [discord, slack], clock=clock.now
    )
    assert summary == f"digest posted to 1, failed: {discord.name} (kept in the outbox)"
    assert (len(fake_discord.messages), len(fake_slack.messages)) == (0, 1)
    [row] = [r for r in list_outbox(fresh_db) if r["destination"] == discord.name]
    assert (row["status"], row["attempts"]) == ("pending", 1)
    # The next passes (the service runs one every 30 s) retry with backoff until it recovers.
    report = deliver_pending(
        fresh_db, [discord, slack], now=clock.now, sleep=clock.sleep, policy=RETRYING
    )
    assert (report.delivered, report.dead) == (1, 0)
    assert len(discord_digests(fake_discord)) == 1 and len(slack_digests(fake_slack)) == 1


@pytest.mark.parametrize("platform", ["discord", "slack"])
def test_sender_killed_after_the_digest_was_accepted_posts_it_once(
    db_path, fake_discord, fake_slack, platform
):
    db = open_db(db_path)
    seed(db)
    settings = settings_for(fake_discord, fake_slack, db_path)
    name = f"discord:{DISCORD_CHANNEL}" if platform == "discord" else f"slack:{CHANNEL_ID}"
    assert queue_digest(db, settings, SESSION, NOW, [name], queued_at=datetime.now(UTC)) == 1
    fake = fake_discord if platform == "discord" else fake_slack
    env = {
        "DISCORD_BOT_TOKEN": fake_discord.token,
        "DISCORD_CHANNEL_IDS": DISCORD_CHANNEL,
        "DISCORD_API_BASE": fake_discord.api_base,
        "SLACK_BOT_TOKEN": fake_slack.token,
        "SLACK_CHANNEL": CHANNEL_ID,
        "SLACK_API_URL": fake_slack.api_url,
    }
    run_killed_sender(db_path, fake, env)
    fake_discord.nonce_window = 0.0  # the restart comes after Discord's nonce window
    restart = FakeClock(datetime.now(UTC) + timedelta(minutes=2))
    rest = DiscordRest(fake_discord.token, api_base=fake_discord.api_base)
    try:
        notifier = (
            DiscordBotNotifier(rest, DISCORD_CHANNEL)
            if platform == "discord"
            else SlackBotNotifier(fake_slack.token, CHANNEL_ID, api_base=fake_slack.api_url)
        )
        report = deliver_pending(
            db, [notifier], now=restart.now, sleep=restart.sleep, policy=RETRYING
        )
    finally:
        rest.close()
    assert report.delivered == 1
    if platform == "discord":
        assert len(discord_digests(fake_discord)) == 1
    else:
        [ts] = slack_digests(fake_slack)
        assert [len(m.files) for m in fake_slack.messages if m.ts == ts] == [1]  # chart, once
    [row] = list_outbox(db)
    assert row["status"] == "delivered"


async def test_service_digest_job_queues_and_delivers_once(
    db_path, fake_discord, fake_slack
) -> None:
    db = open_db(db_path)
    seed(db)
    db.close()
    jobs = ServiceJobs(settings_for(fake_discord, fake_slack, db_path), db_path)
    try:
        first = await jobs.send_digest(SESSION, NOW)
        second = await jobs.send_digest(SESSION, NOW)  # a restart re-running the session's job
    finally:
        await asyncio.to_thread(jobs.close)  # it runs the notifiers' own loops: not on this one
    assert first.startswith("digest queued for 2 destination(s)")
    assert second.startswith("digest queued for 0 destination(s)")
    assert len(discord_digests(fake_discord)) == 1 and len(slack_digests(fake_slack)) == 1

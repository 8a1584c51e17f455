"""Acknowledgement everywhere (issue 14 item 4): one press shows on every posted copy.

An alert is delivered through the real clients to both stand-ins: the Discord channel, the
Slack channel, and a DM on each platform. A press on one copy (through the real discord.py
command tree, or the real bolt app with signed requests) edits every other copy: Discord by
PATCH, Slack by chat.update.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.chat.core import Commands
from bot.chat.discord.client import RotationClient
from bot.config import Settings
from bot.delivery.ack_copies import AckNote, show_acknowledged_everywhere
from bot.delivery.discord import configure_api_base
from bot.delivery.discord_alert import ack_custom_id
from bot.delivery.slack_alert import ACK_ACTION, ACK_BLOCK
from signals.rules import parse_rule
from storage import subscriptions as subs
from storage.db import open_db
from storage.outbox_copies import posted_copies
from tests.bot.test_alerting import deliver
from tests.fakes.delivery_kit import T0, FakeClock, make_event
from tests.fakes.discord_api import Posted
from tests.fakes.discord_interactions import CHANNEL, FakeDiscordApp
from tests.fakes.discord_kit import ALICE, Harness, User
from tests.fakes.on_call_kit import BOB, RULE, SLACK_BEN, desk_settings
from tests.fakes.slack_api import CHANNEL_ID, FakeSlack, SlackPost
from tests.fakes.slack_bolt_kit import SECRET, SlackBot, serve

KEY = f"{RULE}:2026-11-20:fired"
RULES = [parse_rule({"type": "relative_crossover", "id": RULE, "a": "IWC", "b": "OEF"})]
DM_BOB = User(BOB, "bob")  # the Discord subscriber who gets the alert by DM


@pytest.fixture
def desk(
    db_path: Path, fake_discord_app: FakeDiscordApp, fake_slack: FakeSlack
) -> Iterator[Settings]:
    """The alert posted in both channels and DMed to Bob (Discord) and Ben (Slack)."""
    settings = desk_settings(
        fake_discord_app, fake_slack, slack_signing_secret=SECRET, slack_mode="http"
    )
    db = open_db(db_path)
    subs.subscribe(db, "discord", BOB, RULE, "dm", now=T0)
    subs.subscribe(db, "slack", SLACK_BEN, RULE, "dm", now=T0)
    db.close()
    report = deliver(db_path, settings, [make_event()], FakeClock(), rules=RULES)
    assert report.delivered == 4
    yield settings


def core_for(settings: Settings, db_path: Path) -> Commands:
    return Commands.for_path(settings, db_path, rules=RULES, clock=lambda: T0)


@pytest.fixture
async def discord_bot(
    desk: Settings, db_path: Path, fake_discord_app: FakeDiscordApp
) -> AsyncIterator[Harness]:
    configure_api_base(fake_discord_app.api_base)
    async with RotationClient(core_for(desk, db_path), desk) as client:
        await client.login(fake_discord_app.token)
        yield Harness(client, fake_discord_app)


@pytest.fixture
async def slack_bot(
    desk: Settings, db_path: Path, fake_slack: FakeSlack
) -> AsyncIterator[SlackBot]:
    async for bot in serve(fake_slack, core_for(desk, db_path), desk):
        yield bot


def discord_copy(fake: FakeDiscordApp, channel: str) -> Posted:
    return next(m for m in fake.messages if m.channel_id == channel)


def slack_copy(fake: FakeSlack, channel_prefix: str) -> SlackPost:
    return next(p for p in fake.messages if p.channel.startswith(channel_prefix))


async def until(condition: Any, within: float = 10.0) -> None:
    """Wait for the listener's background work (the stand-ins run in their own threads)."""
    for _ in range(int(within / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the other copies were not edited")


def ack_field(posted: Posted) -> str:
    fields = posted.payload["embeds"][0]["fields"]
    return next(f["value"] for f in fields if f["name"] == "Acknowledged")


def ack_note(post: SlackPost) -> str:
    block = next(b for b in post.payload["blocks"] if b.get("block_id") == ACK_BLOCK)
    return str(block["elements"][0]["text"])


def actions(post: SlackPost) -> list[str]:
    blocks = [b for b in post.payload["blocks"] if b["type"] == "actions"]
    return [element["action_id"] for block in blocks for element in block["elements"]]


def ack_button(posted: Posted) -> dict[str, Any]:
    items = [item for row in posted.payload["components"] for item in row["components"]]
    return next(item for item in items if item["custom_id"] == ack_custom_id(KEY))


async def test_a_discord_press_updates_the_slack_copies_and_the_discord_dm(
    discord_bot: Harness, fake_discord_app: FakeDiscordApp, fake_slack: FakeSlack
) -> None:
    posted = discord_copy(fake_discord_app, CHANNEL)
    message = fake_discord_app.message_json(posted)
    await discord_bot.press(ack_custom_id(KEY), message, ALICE)
    await until(lambda: len(fake_slack.updates) == 2 and len(fake_discord_app.edits) == 1)

    updated = {(u["channel"], u["ts"]) for u in fake_slack.updates}
    channel_post, dm_post = slack_copy(fake_slack, CHANNEL_ID), slack_copy(fake_slack, "D")
    assert updated == {(CHANNEL_ID, channel_post.ts), (dm_post.channel, dm_post.ts)}
    for post in (channel_post, dm_post):
        assert "Acknowledged by alice on Discord at" in ack_note(post)
        assert ACK_ACTION not in actions(post)  # the button is gone
        assert post.payload["metadata"]["event_payload"]["alert_key"] == KEY  # lookups still work
    [(dm_channel, _, _)] = fake_discord_app.edits  # the DM copy; the pressed one by its handler
    assert dm_channel == fake_discord_app.dm_channels[BOB]
    dm_copy = discord_copy(fake_discord_app, dm_channel)
    assert ack_field(dm_copy).startswith("by alice on Discord at <t:")
    assert ack_button(dm_copy)["disabled"]


async def test_a_slack_press_updates_the_discord_copies(
    slack_bot: SlackBot, fake_discord_app: FakeDiscordApp, fake_slack: FakeSlack
) -> None:
    post = slack_copy(fake_slack, CHANNEL_ID)
    shown = {"ts": post.ts, "channel": post.channel, "payload": dict(post.payload)}
    answer = await slack_bot.press(ACK_ACTION, KEY, "U0TRADER1", shown)
    assert answer.status == 200
    await until(lambda: len(fake_discord_app.edits) == 2 and len(fake_slack.updates) == 2)

    edited = {channel for channel, _, _ in fake_discord_app.edits}
    assert edited == {CHANNEL, fake_discord_app.dm_channels[BOB]}
    for channel in edited:
        copy = discord_copy(fake_discord_app, channel)
        assert ack_field(copy).startswith("by u0trader1 on Slack at <t:")
        assert ack_button(copy)["disabled"] and ack_button(copy)["label"] == "Acknowledged"
        assert copy.payload["embeds"][0]["title"]  # the alert itself is kept
    # The pressed message by its handler, Ben's DM copy by the ack sync: one update each.
    assert sorted(u["channel"][0] for u in fake_slack.updates) == ["C", "D"]


async def test_a_dm_press_updates_the_channel_alerts(
    discord_bot: Harness, fake_discord_app: FakeDiscordApp, fake_slack: FakeSlack
) -> None:
    dm_copy = discord_copy(fake_discord_app, fake_discord_app.dm_channels[BOB])
    message = fake_discord_app.message_json(dm_copy)
    await discord_bot.press(ack_custom_id(KEY), message, DM_BOB, dm=True)
    await until(lambda: len(fake_discord_app.edits) == 1 and len(fake_slack.updates) == 2)

    [(channel, message_id, _)] = fake_discord_app.edits
    channel_copy = discord_copy(fake_discord_app, CHANNEL)
    assert (channel, message_id) == (CHANNEL, channel_copy.id)
    assert ack_field(channel_copy).startswith("by bob on Discord at <t:")
    assert "Acknowledged by bob on Discord" in ack_note(slack_copy(fake_slack, CHANNEL_ID))


def test_a_failed_edit_is_retried_then_reported_and_the_ack_stays(
    desk: Settings,
    db_path: Path,
    fake_discord_app: FakeDiscordApp,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = open_db(db_path)
    subs.acknowledge(db, KEY, platform="slack", user_id="U0TRADER1", now=T0)
    fake_slack.fail_next_update(429, retry_after=7)  # the Slack channel copy: twice, then OK
    fake_slack.fail_next_update(503)
    fake_discord_app.fail_next(403)  # the Discord channel copy: Missing Permissions, for good
    sleeps: list[float] = []
    note = AckNote("trader", "Slack", T0.isoformat())
    with caplog.at_level(logging.WARNING):
        outcomes = show_acknowledged_everywhere(
            db, desk, KEY, note, pressed=("discord", dm_message(db)), sleep=sleeps.append
        )
    assert outcomes == {
        f"discord:{CHANNEL}": outcomes[f"discord:{CHANNEL}"],
        f"slack:{CHANNEL_ID}": "edited",
        f"slack:dm:{SLACK_BEN}": "edited",
    }  # the pressed Discord DM copy is left to its handler
    assert outcomes[f"discord:{CHANNEL}"].startswith("failed: Discord HTTP 403")
    assert sleeps == [7.0, 2.0]  # Slack's Retry-After, then the backoff
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"not shown on discord:{CHANNEL}" in warnings[0]
    assert "after 1 attempt(s)" in warnings[0]  # a permanent error is not retried
    assert len(fake_slack.updates) == 2
    assert subs.acknowledgement(db, KEY) is not None  # recorded, whatever the edits did
    db.close()


def dm_message(db: Any) -> str:
    return next(
        c.message_id for c in posted_copies(db, KEY) if c.destination.startswith("discord:dm")
    )


def test_posted_copies_include_reminders_but_not_other_alerts(
    desk: Settings, db_path: Path
) -> None:
    db = open_db(db_path)
    copies = posted_copies(db, KEY)
    assert sorted(c.destination for c in copies) == [
        f"discord:{CHANNEL}",
        f"discord:dm:{BOB}",
        f"slack:{CHANNEL_ID}",
        f"slack:dm:{SLACK_BEN}",
    ]
    assert posted_copies(db, KEY.replace("20", "21")) == []
    db.close()

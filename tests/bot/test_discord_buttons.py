"""Alert buttons (Acknowledge, Mute 1 day) and DMs, through the real client and the fake API."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.delivery.discord import DiscordBotNotifier, DiscordDmNotifier, DiscordRest, dm_notifiers
from bot.delivery.discord_alert import ack_custom_id, key_from_footer, mute_custom_id
from bot.delivery.message import AlertMessage, build_alert_message
from storage import subscriptions as subs
from storage.db import open_db
from tests.fakes.delivery_kit import PNG, make_event
from tests.fakes.discord_api import Posted
from tests.fakes.discord_interactions import CHANNEL, FakeDiscordApp
from tests.fakes.discord_kit import ADMIN, ALICE, BOB, NOW, Harness, assert_no_pings

SINCE = NOW.replace(year=2025)


@pytest.fixture
def rest(fake_discord_app: FakeDiscordApp) -> Iterator[DiscordRest]:
    client = DiscordRest(fake_discord_app.token, api_base=fake_discord_app.api_base)
    yield client
    client.close()


def alert(kind: str = "fired") -> AlertMessage:
    return build_alert_message(make_event(kind=kind, rule="iwc-ath"), PNG)


async def post_alert(rest: DiscordRest, fake: FakeDiscordApp, message: AlertMessage) -> Posted:
    """Deliver the alert the way the outbox sender does (REST, in a worker thread)."""
    notifier = DiscordBotNotifier(rest, CHANNEL)
    result = await asyncio.to_thread(notifier.send, message, idempotency_key=message.key)
    return fake.message_by_id(str(result.message_id))


def buttons(posted: Posted) -> list[dict]:
    return [item for row in posted.payload["components"] for item in row["components"]]


# Buttons on the alert


async def test_fired_alert_carries_ack_and_mute_buttons(bot: Harness, rest: DiscordRest) -> None:
    posted = await post_alert(rest, bot.fake, alert())
    found = [(b["label"], b["custom_id"]) for b in buttons(posted)]
    assert found == [
        ("Acknowledge", "rot:ack:iwc-ath:2026-11-20:fired"),
        ("Mute 1 day", "rot:mute1d:iwc-ath"),
    ]
    assert posted.files == {"chart.png": PNG}


async def test_reversal_carries_only_mute(bot: Harness, rest: DiscordRest) -> None:
    posted = await post_alert(rest, bot.fake, alert("reversed"))
    assert [b["custom_id"] for b in buttons(posted)] == ["rot:mute1d:iwc-ath"]


async def test_acknowledge_records_and_edits_the_original(
    bot: Harness, rest: DiscordRest, seeded_db: Path
) -> None:
    posted = await post_alert(rest, bot.fake, alert())
    token = await bot.press(buttons(posted)[0]["custom_id"], bot.fake.message_json(posted), BOB)
    assert bot.fake.sequence(token) == ["callback:6", "edit_original"]
    edited = bot.fake.message_by_id(posted.id)
    ack = edited.payload["embeds"][0]["fields"][-1]
    assert ack["name"] == "Acknowledged" and ack["value"].startswith("by @\u200beveryone at <t:")
    assert edited.payload["embeds"][0]["footer"]["text"].endswith("alert iwc-ath:2026-11-20:fired")
    ack_button, mute_button = buttons(edited)
    assert ack_button["disabled"] and ack_button["label"] == "Acknowledged"
    assert not mute_button.get("disabled")
    assert edited.files == {"chart.png": PNG}  # the chart stays
    recorded = subs.acknowledgement(open_db(seeded_db), "iwc-ath:2026-11-20:fired")
    assert recorded is not None and recorded.user_id == BOB.id
    assert_no_pings(bot.fake)


async def test_second_acknowledge_is_told_who_was_first(bot: Harness, rest: DiscordRest) -> None:
    posted = await post_alert(rest, bot.fake, alert())
    custom_id = buttons(posted)[0]["custom_id"]
    await bot.press(custom_id, bot.fake.message_json(posted), ALICE)
    token = await bot.press(custom_id, bot.fake.message_json(posted), BOB)
    assert bot.fake.sequence(token) == ["callback:6", "followup"]
    followup = bot.fake.steps_for(token)[-1]
    assert followup.ephemeral
    assert followup.message["content"].startswith(f"Already acknowledged by {ALICE.id}")


async def test_non_admin_mute_is_refused_privately(
    bot: Harness, rest: DiscordRest, seeded_db: Path
) -> None:
    posted = await post_alert(rest, bot.fake, alert())
    token = await bot.press("rot:mute1d:iwc-ath", bot.fake.message_json(posted), ALICE)
    assert bot.fake.sequence(token) == ["callback:6", "followup"]
    followup = bot.fake.steps_for(token)[-1]
    assert followup.ephemeral and followup.message["content"] == "Only admins can mute signals."
    assert subs.active_mutes(open_db(seeded_db), NOW) == []


async def test_admin_mutes_for_a_day(bot: Harness, rest: DiscordRest, seeded_db: Path) -> None:
    posted = await post_alert(rest, bot.fake, alert())
    token = await bot.press("rot:mute1d:iwc-ath", bot.fake.message_json(posted), ADMIN)
    followup = bot.fake.steps_for(token)[-1]
    assert not followup.ephemeral
    assert followup.message["content"] == "Muted iwc-ath until 2026-03-03 21:00 UTC, by admin."
    [mute] = subs.active_mutes(open_db(seeded_db), NOW)
    assert (mute.rule_id, mute.muted_by) == ("iwc-ath", ADMIN.id)


async def test_long_alert_key_falls_back_to_the_footer(bot: Harness, rest: DiscordRest) -> None:
    rule = "r" * 80
    message = build_alert_message(make_event(rule=rule))
    assert ack_custom_id(message.key) == "rot:ack:"
    assert mute_custom_id(rule) == "rot:mute1d:" + rule
    posted = await post_alert(rest, bot.fake, message)
    assert key_from_footer(posted.payload["embeds"]) == message.key
    token = await bot.press("rot:ack:", bot.fake.message_json(posted), ALICE)
    assert bot.fake.sequence(token) == ["callback:6", "edit_original"]


async def test_unknown_button_is_ignored(bot: Harness, rest: DiscordRest) -> None:
    posted = await post_alert(rest, bot.fake, alert())
    token = await bot.press("someone-else:button", bot.fake.message_json(posted), ALICE)
    assert bot.fake.sequence(token) == []


# Direct messages


def test_dm_opens_a_channel_and_posts_without_mentions(
    fake_discord_app: FakeDiscordApp, rest: DiscordRest
) -> None:
    message = alert().with_mentions(["4242"])
    notifier = DiscordDmNotifier(rest, "4242")
    first = notifier.send(message, idempotency_key=message.key)
    again = notifier.send(message, idempotency_key=message.key)
    channel = fake_discord_app.dm_channels["4242"]
    [posted] = fake_discord_app.messages
    assert (posted.channel_id, first.message_id, again.message_id) == (
        channel,
        posted.id,
        posted.id,
    )
    assert notifier.name == "discord:dm:4242"
    assert "content" not in posted.payload or not posted.payload["content"]
    assert posted.payload["allowed_mentions"] == {"parse": [], "users": []}
    assert buttons(posted)[0]["custom_id"].startswith("rot:ack:")
    found = notifier.find_existing(message.key, since=SINCE)
    assert found is not None and found.message_id == posted.id
    requests = [path for method, path in fake_discord_app.requests if method == "POST"]
    assert requests.count("/api/v10/users/@me/channels") == 1  # the DM channel is opened once


async def test_buttons_work_in_a_dm(bot: Harness, rest: DiscordRest, seeded_db: Path) -> None:
    message = alert()
    notifier = DiscordDmNotifier(rest, ALICE.id)
    sent = await asyncio.to_thread(notifier.send, message, idempotency_key=message.key)
    posted = bot.fake.message_by_id(str(sent.message_id))
    payload = bot.fake.message_json(posted)
    token = await bot.press(buttons(posted)[0]["custom_id"], payload, ALICE, dm=True)
    assert bot.fake.sequence(token) == ["callback:6", "edit_original"]
    refused = await bot.press("rot:mute1d:iwc-ath", payload, ALICE, dm=True)
    assert bot.fake.steps_for(refused)[-1].message["content"] == "Only admins can mute signals."
    recorded = subs.acknowledgement(open_db(seeded_db), message.key)
    assert recorded is not None and recorded.user_id == ALICE.id


def test_dm_notifiers_skip_malformed_ids(rest: DiscordRest) -> None:
    found = dm_notifiers(rest, ["1", "1", "@everyone", "2"])
    assert [n.name for n in found] == ["discord:dm:1", "discord:dm:2"]
    with pytest.raises(ValueError):
        DiscordDmNotifier(rest, "U123")

"""Alert buttons and DMs: signed block_actions through bolt's HTTP handling to the real app.

The alert is first posted by `SlackBotNotifier` to the local fake Web API; its stored blocks
are what Slack would send back in the interaction payload.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.chat.core import Commands
from bot.chat.replies import AckReply
from bot.chat.slack.answers import press_acknowledge, press_mute
from bot.chat.slack.format import acknowledged_blocks
from bot.config import load_settings
from bot.delivery.message import AlertMessage, PermanentError, build_alert_message
from bot.delivery.slack import SlackBotNotifier, SlackDmNotifier
from bot.delivery.slack_alert import ACK_ACTION, ACK_BLOCK, MUTE_ACTION, alert_blocks
from bot.safety import find_mentions
from storage import subscriptions as subs
from tests.fakes.delivery_kit import make_event
from tests.fakes.slack_api import CHANNEL_ID, FakeSlack
from tests.fakes.slack_bolt_kit import (
    ADMIN,
    NOW,
    RULES,
    TRADER,
    SlackBot,
    block_actions,
    seed_prices,
    seeded_bot,
    texts_of,
)

SINCE = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def slack_bot(fake_slack: FakeSlack, tmp_path: Path) -> AsyncIterator[SlackBot]:
    async for bot in seeded_bot(fake_slack, tmp_path):
        yield bot


def alert(kind: str = "fired") -> AlertMessage:
    return build_alert_message(make_event(rule="aaa-ath", title="AAA at a record", kind=kind))


async def post_alert(fake: FakeSlack, message: AlertMessage) -> dict[str, Any]:
    """Post through the real notifier; return the message as Slack would echo it back."""
    notifier = SlackBotNotifier(fake.token, CHANNEL_ID, api_base=fake.api_url)
    result = await asyncio.to_thread(notifier.send, message, idempotency_key=message.key)
    [post] = [p for p in fake.messages if p.ts == result.message_id]
    payload = {"text": post.payload["text"], "blocks": post.payload["blocks"]}
    return {"ts": post.ts, "channel": post.channel, "payload": payload}


def buttons(blocks: list[dict]) -> dict[str, str]:
    return {
        e["action_id"]: e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]
    }


async def updated(fake: FakeSlack, count: int = 1) -> list[dict]:
    for _ in range(1000):
        if len(fake.updates) >= count:
            break
        await asyncio.sleep(0.01)
    assert len(fake.updates) >= count
    return fake.updates


# The buttons on alerts


def test_fired_alert_has_acknowledge_and_mute_buttons() -> None:
    message = alert()
    blocks = alert_blocks(message)
    assert blocks[-1]["type"] == "actions"
    assert buttons(blocks) == {ACK_ACTION: message.key, MUTE_ACTION: "aaa-ath"}
    assert blocks[-2]["type"] == "context"  # the alert itself is unchanged above the buttons


def test_reversal_can_be_muted_but_not_acknowledged() -> None:
    assert buttons(alert_blocks(alert("reversed"))) == {MUTE_ACTION: "aaa-ath"}


async def test_notifier_posts_the_buttons(fake_slack: FakeSlack) -> None:
    message = await post_alert(fake_slack, alert())
    assert set(buttons(message["payload"]["blocks"])) == {ACK_ACTION, MUTE_ACTION}


# Acknowledge


async def test_acknowledge_records_who_and_edits_the_alert(slack_bot: SlackBot) -> None:
    message = alert()
    posted = await post_alert(slack_bot.fake, message)
    answer = await slack_bot.press(ACK_ACTION, message.key, TRADER, posted)
    assert (answer.status, answer.body) == (200, "")
    [update] = await updated(slack_bot.fake)
    assert (update["channel"], update["ts"]) == (CHANNEL_ID, posted["ts"])
    note = update["blocks"][-1]
    assert note["block_id"] == ACK_BLOCK
    assert note["elements"][0]["text"] == (
        f":white_check_mark: Acknowledged by <@{TRADER}> at 2026-03-02 21:00 UTC"
    )
    assert buttons(update["blocks"]) == {MUTE_ACTION: "aaa-ath"}  # Acknowledge is gone
    assert update["text"] == posted["payload"]["text"]
    assert update["metadata"]["event_payload"] == {"alert_key": message.key}
    ack = subs.acknowledgement(slack_bot.core.db, message.key)
    assert ack is not None and (ack.platform, ack.user_id) == ("slack", TRADER)
    await slack_bot.settle()
    assert slack_bot.fake.responses == []  # the edited alert says it all


async def test_a_later_press_is_told_who_was_first(slack_bot: SlackBot) -> None:
    message = alert()
    posted = await post_alert(slack_bot.fake, message)
    await slack_bot.press(ACK_ACTION, message.key, TRADER, posted)
    await updated(slack_bot.fake)
    await slack_bot.press(ACK_ACTION, message.key, ADMIN, posted)
    [note] = await slack_bot.answers(1)
    assert note["response_type"] == "ephemeral" and note["replace_original"] is False
    assert note["text"] == f"Already acknowledged by {TRADER} (slack) at 2026-03-02 21:00 UTC."
    _, second = await updated(slack_bot.fake, 2)
    assert f"<@{TRADER}>" in second["blocks"][-1]["elements"][0]["text"]  # still the first
    assert sum(b.get("block_id") == ACK_BLOCK for b in second["blocks"]) == 1


async def test_alert_that_cannot_be_edited_still_counts_and_says_so(slack_bot: SlackBot) -> None:
    message = alert()
    posted = await post_alert(slack_bot.fake, message)
    slack_bot.fake.messages.clear()  # deleted in the meantime: chat.update finds nothing
    await slack_bot.press(ACK_ACTION, message.key, TRADER, posted)
    [note] = await slack_bot.answers(1)
    assert note["response_type"] == "ephemeral" and "could not be updated" in note["text"]
    assert subs.acknowledgement(slack_bot.core.db, message.key) is not None


async def test_forged_press_is_rejected_and_records_nothing(slack_bot: SlackBot) -> None:
    message = alert()
    posted = await post_alert(slack_bot.fake, message)
    payload = block_actions(ACK_ACTION, message.key, TRADER, posted)
    answer = await slack_bot.post(urlencode({"payload": json.dumps(payload)}), secret="forged")
    assert answer.status == 401
    await slack_bot.settle()
    assert subs.acknowledgement(slack_bot.core.db, message.key) is None


# Mute 1 day


async def test_mute_button_is_refused_to_non_admins(slack_bot: SlackBot) -> None:
    posted = await post_alert(slack_bot.fake, alert())
    await slack_bot.press(MUTE_ACTION, "aaa-ath", TRADER, posted)
    [refusal] = await slack_bot.answers(1)
    assert refusal["response_type"] == "ephemeral"
    assert refusal["text"] == "Only admins can mute signals."
    assert subs.active_mutes(slack_bot.core.db, SINCE) == []


async def test_mute_button_mutes_for_one_day_and_tells_the_channel(slack_bot: SlackBot) -> None:
    posted = await post_alert(slack_bot.fake, alert())
    await slack_bot.press(MUTE_ACTION, "aaa-ath", ADMIN, posted)
    [answer] = await slack_bot.answers(1)
    assert answer["response_type"] == "in_channel" and answer["replace_original"] is False
    assert answer["text"] == f"Muted aaa-ath until 2026-03-03 21:00 UTC (by <@{ADMIN}>)."
    mentions = [m for text in texts_of(answer) for m in find_mentions(text, "slack")]
    assert set(mentions) == {f"<@{ADMIN}>"}
    [mute] = subs.active_mutes(slack_bot.core.db, SINCE)
    assert (mute.rule_id, mute.muted_by, mute.until) == (
        "aaa-ath",
        ADMIN,
        "2026-03-03T21:00:00+00:00",
    )


async def test_mute_of_an_unknown_rule_is_one_line(slack_bot: SlackBot) -> None:
    posted = await post_alert(slack_bot.fake, alert())
    await slack_bot.press(MUTE_ACTION, "<!everyone>", ADMIN, posted)
    [answer] = await slack_bot.answers(1)
    assert answer["response_type"] == "ephemeral" and "is not a rule id" in answer["text"]
    assert [m for t in texts_of(answer) for m in find_mentions(t, "slack")] == []


# The acknowledged layout


def test_acknowledged_blocks_replace_the_note_and_name_other_platforms_plainly() -> None:
    blocks = alert_blocks(alert())
    first = AckReply("k", True, "slack", "UONE1", "2026-03-02T21:00:00+00:00", "")
    other = AckReply("k", False, "discord", "<@123>", "2026-03-02T21:05:00+00:00", "")
    once = acknowledged_blocks(blocks, first)
    twice = acknowledged_blocks(once, other)
    assert sum(b.get("block_id") == ACK_BLOCK for b in twice) == 1
    text = twice[-1]["elements"][0]["text"]
    assert text.endswith("by &lt;@123&gt; on discord at 2026-03-02 21:05 UTC")
    assert find_mentions(text, "slack") == []


# Direct messages


async def test_send_dm_opens_the_conversation_and_posts_without_pings(fake_slack: FakeSlack):
    notifier = SlackBotNotifier(fake_slack.token, CHANNEL_ID, api_base=fake_slack.api_url)
    message = alert().with_mentions([TRADER])
    result = await asyncio.to_thread(notifier.dm(TRADER).send, message, idempotency_key=message.key)
    [post] = fake_slack.messages
    assert post.channel.startswith("D") and result.message_id == post.ts
    assert "/api/conversations.open" in fake_slack.requests
    assert result.destination == f"slack:dm:{TRADER}"
    blocks = post.payload["blocks"]
    assert [m for t in texts_of({"blocks": blocks}) for m in find_mentions(t, "slack")] == []
    assert set(buttons(blocks)) == {ACK_ACTION, MUTE_ACTION}


async def test_dm_notifier_finds_its_earlier_post(fake_slack: FakeSlack) -> None:
    notifier = SlackBotNotifier(fake_slack.token, CHANNEL_ID, api_base=fake_slack.api_url)
    dm = notifier.dm(TRADER)
    message = alert()
    sent = await asyncio.to_thread(dm.send, message, idempotency_key=message.key)
    fresh = SlackBotNotifier(fake_slack.token, CHANNEL_ID, api_base=fake_slack.api_url).dm(TRADER)
    found = await asyncio.to_thread(fresh.find_existing, message.key, since=SINCE)
    assert found is not None and found.message_id == sent.message_id


def test_dm_notifier_needs_a_user_id(fake_slack: FakeSlack) -> None:
    notifier = SlackBotNotifier(fake_slack.token, CHANNEL_ID, api_base=fake_slack.api_url)
    with pytest.raises(PermanentError, match="not a Slack user id"):
        notifier.dm("<!everyone>")
    assert isinstance(notifier.dm(TRADER), SlackDmNotifier)


def test_outbox_destination_names_a_dm_notifier(fake_slack: FakeSlack) -> None:
    notifier = SlackBotNotifier(fake_slack.token, CHANNEL_ID, api_base=fake_slack.api_url)
    dm = notifier.for_destination(f"slack:dm:{TRADER}")
    assert dm is not None and dm.name == f"slack:dm:{TRADER}" and dm.user_id == TRADER
    assert notifier.for_destination(f"slack:{CHANNEL_ID}") is None


# Button values are data: whatever they hold, nothing raises and nobody is pinged


@pytest.fixture(scope="module")
def button_core(tmp_path_factory: pytest.TempPathFactory) -> Commands:
    path = tmp_path_factory.mktemp("buttons") / "rotation.db"
    seed_prices(path)
    settings = load_settings(None, slack_admin_ids=(ADMIN,))
    return Commands.for_path(settings, path, rules=RULES, clock=lambda: NOW)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=st.text(max_size=120) | st.sampled_from(["aaa-ath", "all", "<!here>", ""]),
    user=st.sampled_from([TRADER, ADMIN, "", "<!channel>"]),
)
def test_any_button_value_gets_a_safe_answer(button_core: Commands, value: str, user: str):
    muted = press_mute(button_core, user, value)
    acked = press_acknowledge(button_core, user, value)
    answers = [muted] + ([acked.note] if acked.note else [])
    allowed = {f"<@{user}>"} if user == ADMIN else set()
    for answer in answers:
        assert set(m for t in texts_of(answer) for m in find_mentions(t, "slack")) <= allowed
        assert answer.text and "Traceback" not in answer.text
    if acked.ack is not None:
        first = acked.ack.user_id  # the first press of this value wins, maybe an earlier user
        text = str(acknowledged_blocks(alert_blocks(alert()), acked.ack))
        expected = [f"<@{first}>"] if first in (TRADER, ADMIN) else []
        assert find_mentions(text, "slack") == expected

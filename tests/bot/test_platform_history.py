"""Channel history as the platforms document it, and the crash lookup that pages through it.

The stand-ins answer Discord's GET /channels/{id}/messages and Slack's conversations.history
the way the platforms' docs say (Discord: `after=X` gives the oldest messages after X, newest
first; Slack: newest first, cursor by cursor); the lookups must read every page since the
alert was queued, or a busy channel hides the post and the alert is posted twice.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.delivery.discord import DiscordBotNotifier, DiscordRest
from bot.delivery.message import PermanentError, build_alert_message
from bot.delivery.slack import SlackBotNotifier
from tests.fakes.delivery_kit import make_event
from tests.fakes.slack_api import CHANNEL_ID

CHANNEL = "123456789012345678"
SINCE = datetime(2026, 1, 1, tzinfo=UTC)


def history(rest: DiscordRest, **query: int) -> list[int]:
    """Message numbers (chatter N) of one GET /channels/{id}/messages, in the order served."""
    limit = query.pop("limit", 50)

    async def get() -> list[dict]:
        http = await rest.login()
        return await http.logs_from(int(CHANNEL), limit, **query)

    return [int(item["content"].split()[1]) for item in rest.runner.run(get)]


def test_discord_after_gives_the_oldest_messages_after_it_newest_first(fake_discord, rest):
    fake_discord.post_chatter(CHANNEL, 250)
    ids = [int(m.id) for m in fake_discord.messages]
    assert ids == sorted(ids)  # snowflakes grow with time
    assert history(rest, limit=100, after=ids[9]) == list(range(109, 9, -1))
    assert history(rest, limit=100, before=ids[200]) == list(range(199, 99, -1))
    assert history(rest) == list(range(249, 199, -1))  # no anchor: the newest 50


def test_discord_refuses_a_limit_outside_1_to_100_with_a_form_error(fake_discord, rest):
    with pytest.raises(PermanentError, match=r"(?s)HTTP 400 \(code 50035\).*between 1 and 100"):
        history(rest, limit=101)


def test_discord_answers_carry_via_and_rate_limit_headers(fake_discord):
    request = urllib.request.Request(
        f"{fake_discord.api_base}/channels/{CHANNEL}/messages?limit=5",
        headers={"Authorization": f"Bot {fake_discord.token}"},
    )
    with urllib.request.urlopen(request) as response:
        headers, body = response.headers, json.load(response)
    assert body == []
    assert headers["Via"] and headers["X-RateLimit-Bucket"] and headers["X-RateLimit-Reset-After"]


def test_discord_lookup_pages_past_the_first_hundred_messages(fake_discord, rest):
    fake_discord.post_chatter(CHANNEL, 230)  # people talk before the alert goes out
    notifier = DiscordBotNotifier(rest, CHANNEL)
    message = build_alert_message(make_event())
    sent = notifier.send(message, idempotency_key=message.key)
    fake_discord.post_chatter(CHANNEL, 30)
    found = notifier.find_existing(message.key, since=SINCE)
    assert found is not None and found.message_id == sent.message_id
    pages = [
        r for r in fake_discord.requests if r == ("GET", f"/api/v10/channels/{CHANNEL}/messages")
    ]
    assert len(pages) == 3  # 100 + 100 + the page holding the alert
    assert notifier.find_existing("other:2026-11-20:fired", since=SINCE) is None


def slack_page(client: WebClient, **params: object) -> dict:
    return client.conversations_history(channel=CHANNEL_ID, **params).data  # type: ignore[return-value]


def test_slack_history_is_newest_first_and_paged_by_cursor(fake_slack):
    fake_slack.post_chatter(CHANNEL_ID, 250)
    client = WebClient(token=fake_slack.token, base_url=fake_slack.api_url)
    first = slack_page(client, limit=100)
    texts = [m["text"] for m in first["messages"]]
    assert texts[0] == "chatter 249" and texts[-1] == "chatter 150"
    assert first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    second = slack_page(client, limit=200, cursor=cursor)
    assert [m["text"] for m in second["messages"]][-1] == "chatter 0"
    assert second["has_more"] is False and "response_metadata" not in second


def test_slack_history_bounds_and_inclusive(fake_slack):
    fake_slack.post_chatter(CHANNEL_ID, 5)
    client = WebClient(token=fake_slack.token, base_url=fake_slack.api_url)
    ts = [post.ts for post in fake_slack.messages]
    between = slack_page(client, oldest=ts[1], latest=ts[3])["messages"]
    assert [m["ts"] for m in between] == [ts[2]]
    inclusive = slack_page(client, oldest=ts[1], latest=ts[3], inclusive=True)["messages"]
    assert [m["ts"] for m in inclusive] == [ts[3], ts[2], ts[1]]
    with pytest.raises(SlackApiError, match="invalid_cursor"):
        slack_page(client, cursor="not a cursor")


def test_slack_lookup_follows_cursors_through_short_pages(fake_slack):
    notifier = SlackBotNotifier(fake_slack.token, CHANNEL_ID, api_base=fake_slack.api_url)
    message = build_alert_message(make_event())
    sent = notifier.send(message, idempotency_key=message.key)
    fake_slack.post_chatter(CHANNEL_ID, 250)  # a busy channel after the alert
    fake_slack.max_page = 70  # Slack may return fewer than `limit` and still have more
    found = notifier.find_existing(message.key, since=SINCE)
    assert found is not None and found.message_id == sent.message_id
    assert fake_slack.requests.count("/api/conversations.history") == 4
    assert notifier.find_existing("other:key:fired", since=SINCE) is None

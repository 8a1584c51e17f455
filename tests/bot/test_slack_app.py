"""Slack adapter through the real slack_sdk clients against the local fake Slack API."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.delivery.message import PermanentError, RateLimited, build_alert_message
from bot.delivery.slack import SlackBotNotifier, SlackWebhookNotifier, api_url, call_slack
from bot.delivery.slack_alert import fallback_text, to_slack_blocks
from bot.safety import find_mentions
from tests.fakes.delivery_kit import PNG, make_event
from tests.fakes.slack_api import CHANNEL_ID, FakeSlack, check_blocks

SINCE = datetime(2026, 1, 1, tzinfo=UTC)


def all_texts(blocks: object) -> list[str]:
    """Every `text` string anywhere in the blocks (sections, fields, context, buttons, confirm)."""
    if isinstance(blocks, list):
        return [text for item in blocks for text in all_texts(item)]
    if not isinstance(blocks, dict):
        return []
    texts = [blocks["text"]] if isinstance(blocks.get("text"), str) else []
    return texts + [text for value in blocks.values() for text in all_texts(value)]


@pytest.fixture
def notifier(fake_slack: FakeSlack) -> SlackBotNotifier:
    return SlackBotNotifier(fake_slack.token, CHANNEL_ID, api_base=fake_slack.api_url)


def test_blocks_have_header_fields_description_and_context():
    blocks = to_slack_blocks(build_alert_message(make_event()))
    assert [b["type"] for b in blocks] == ["header", "section", "section", "context"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": "▲ IWC overtook OEF YTD"}
    assert blocks[1]["fields"][0]["text"] == "*IWC YTD*\n+14.20%"
    context = blocks[-1]["elements"][0]["text"]
    assert "data 2026-11-20" in context and "rule iwc_over_oef_ytd" in context


def test_post_with_metadata_and_chart_uploaded_into_the_thread(fake_slack, notifier):
    message = build_alert_message(make_event(), PNG)
    result = notifier.send(message, idempotency_key=message.key)
    [post] = fake_slack.messages
    assert result.message_id == post.ts
    assert post.payload["metadata"] == {
        "event_type": "rotation_alert",
        "event_payload": {"alert_key": message.key},
    }
    [chart] = post.files
    assert chart["bytes"] == PNG and chart["thread_ts"] == post.ts
    assert chart["filename"] == "chart.png"
    steps = [p for p in fake_slack.requests if "files" in p or "upload" in p]
    assert steps[0] == "/api/files.getUploadURLExternal"
    assert steps[-1] == "/api/files.completeUploadExternal"


def test_find_existing_uses_metadata_from_history(fake_slack, notifier):
    message = build_alert_message(make_event())
    sent = notifier.send(message, idempotency_key=message.key)
    assert notifier.find_existing(message.key, since=SINCE).message_id == sent.message_id
    assert notifier.find_existing("other:key:fired", since=SINCE) is None


def test_find_existing_needs_a_channel_id(fake_slack):
    by_name = SlackBotNotifier(fake_slack.token, "#alerts", api_base=fake_slack.api_url)
    with pytest.raises(PermanentError, match="not an id"):
        by_name.find_existing("k", since=SINCE)


def test_5000_char_description_is_split_into_sections_and_accepted(fake_slack, notifier):
    message = build_alert_message(make_event(description="Rotation detail. " * 300), PNG)
    notifier.send(message, idempotency_key=message.key)
    blocks = fake_slack.messages[0].payload["blocks"]
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]
    assert len(sections) == 2 and all(len(text) <= 3000 for text in sections)
    assert "".join(sections).replace(" ", "") == ("Rotation detail. " * 300).replace(" ", "")


def test_rule_named_everyone_and_role_pings_nobody(fake_slack, notifier):
    event = make_event(title="@everyone <@&123> <!here> & co", rule="<!channel>")
    message = build_alert_message(event).with_mentions(["U0SUBSCRIBER"])
    notifier.send(message, idempotency_key=message.key)
    post = fake_slack.messages[0].payload
    mentions = [m for text in all_texts(post["blocks"]) for m in find_mentions(text, "slack")]
    assert mentions == ["<@U0SUBSCRIBER>"]
    # The fallback (push notification) text pings the subscriber too, and nobody else.
    assert find_mentions(post["text"], "slack") == ["<@U0SUBSCRIBER>"]
    assert "&lt;@&amp;123&gt;" in post["blocks"][0]["text"]["text"]


def test_long_header_many_fields_and_blocks_fit_slack_limits():
    fields = tuple((f"leg {i}", "v" * 2500) for i in range(23))
    event = replace(make_event(title="T" * 400, description="word " * 40000), fields=fields)
    blocks = to_slack_blocks(build_alert_message(event))
    assert check_blocks(blocks) == []
    assert len(blocks) == 50
    assert blocks[0]["text"]["text"].endswith("…")
    assert blocks[-1]["type"] == "context"
    assert "shortened" in blocks[-2]["text"]["text"]


def test_fake_rejects_invalid_blocks_and_the_adapter_calls_it_permanent(fake_slack, notifier):
    header = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}
    with pytest.raises(PermanentError, match="invalid_blocks"):
        call_slack(
            lambda: notifier.client.chat_postMessage(channel=CHANNEL_ID, text="x", blocks=[header])
        )
    assert fake_slack.messages == []


def test_bad_token_is_permanent(fake_slack):
    wrong = SlackBotNotifier("xoxb-wrong", CHANNEL_ID, api_base=fake_slack.api_url)
    with pytest.raises(PermanentError, match="invalid_auth"):
        wrong.send(build_alert_message(make_event()), idempotency_key="k")


def test_webhook_posts_blocks_and_maps_429(fake_slack):
    webhook = SlackWebhookNotifier(fake_slack.webhook_url)
    message = build_alert_message(make_event(), PNG)
    assert webhook.send(message, idempotency_key=message.key).message_id is None
    assert fake_slack.messages[0].via == "webhook"
    assert webhook.name == "slack:webhook"
    fake_slack.fail_next(429, retry_after=9)
    with pytest.raises(RateLimited) as caught:
        webhook.send(message, idempotency_key=message.key)
    assert caught.value.retry_after == 9.0


def test_api_url_keeps_the_trailing_slash_and_fallback_is_escaped():
    assert api_url("http://127.0.0.1:9/api") == "http://127.0.0.1:9/api/"
    assert api_url(None) == "https://slack.com/api/"
    text = fallback_text(build_alert_message(make_event(title="<!everyone>")))
    assert find_mentions(text, "slack") == []


def test_malformed_subscriber_ids_are_dropped_not_pinged():
    message = build_alert_message(make_event()).with_mentions(["U0GOOD", "<!everyone>"])
    texts = [t for t in all_texts(to_slack_blocks(message))]
    assert [m for t in texts for m in find_mentions(t, "slack")] == ["<@U0GOOD>"]

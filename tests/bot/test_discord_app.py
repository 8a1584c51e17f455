"""Discord adapter through the real discord.py client against the local fake Discord API."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import discord
import pytest

from bot.delivery.discord import DiscordBotNotifier, DiscordWebhookNotifier
from bot.delivery.discord_alert import discord_nonce, mention_content
from bot.delivery.discord_errors import delivery_error
from bot.delivery.discord_post import allowed_mentions, to_discord_embed
from bot.delivery.limits import embed_length
from bot.delivery.message import PermanentError, build_alert_message
from bot.safety import find_mentions
from tests.fakes.delivery_kit import PNG, make_event

CHANNEL = "123456789012345678"
WEBHOOK = "https://discord.com/api/webhooks/223456789012345678/" + "w" * 68
SINCE = datetime(2026, 1, 1, tzinfo=UTC)


def test_embed_has_title_colour_fields_date_footer_and_chart():
    embed = to_discord_embed(build_alert_message(make_event(), PNG)).to_dict()
    assert embed["title"] == "▲ IWC overtook OEF YTD"
    assert embed["color"] == 0x2ECC71
    names = [item["name"] for item in embed["fields"]]
    assert names == ["IWC YTD", "OEF YTD", "Data date"]
    assert embed["fields"][-1]["value"] == "2026-11-20"
    assert embed["footer"]["text"].startswith("rule iwc_over_oef_ytd")
    assert embed["image"]["url"] == "attachment://chart.png"


def test_colour_follows_direction():
    down = replace(make_event(), direction="down")
    assert to_discord_embed(build_alert_message(down)).colour.value == 0xE74C3C


def test_post_with_chart_is_accepted_and_returns_the_message_id(fake_discord, rest):
    notifier = DiscordBotNotifier(rest, CHANNEL)
    message = build_alert_message(make_event(), PNG)
    result = notifier.send(message, idempotency_key=message.key)
    [posted] = fake_discord.messages
    assert result.message_id == posted.id
    assert posted.files == {"chart.png": PNG}
    assert posted.nonce == discord_nonce(message.key) and len(posted.nonce) <= 25
    assert posted.payload["enforce_nonce"] is True


def test_same_nonce_returns_the_existing_message(fake_discord, rest):
    notifier = DiscordBotNotifier(rest, CHANNEL)
    message = build_alert_message(make_event())
    first = notifier.send(message, idempotency_key=message.key)
    second = notifier.send(message, idempotency_key=message.key)
    assert first.message_id == second.message_id
    assert len(fake_discord.messages) == 1


def test_find_existing_matches_only_this_alert(fake_discord, rest):
    notifier = DiscordBotNotifier(rest, CHANNEL)
    message = build_alert_message(make_event())
    sent = notifier.send(message, idempotency_key=message.key)
    assert notifier.find_existing(message.key, since=SINCE).message_id == sent.message_id
    assert notifier.find_existing("other:2026-11-20:fired", since=SINCE) is None


def test_5000_char_description_is_trimmed_visibly_and_accepted(fake_discord, rest):
    event = make_event(description="Rotation detail. " * 300)  # 5100 characters
    message = build_alert_message(event, PNG)
    DiscordBotNotifier(rest, CHANNEL).send(message, idempotency_key=message.key)
    embed = fake_discord.messages[0].embed
    assert len(embed["description"]) <= 4096
    assert embed["description"].endswith("…")
    assert embed_length(embed) <= 6000


def test_rule_named_everyone_and_role_pings_nobody(fake_discord, rest):
    event = make_event(title="@everyone <@&123>", rule="@here <@456>")
    message = build_alert_message(event).with_mentions(["111111111111111111"])
    DiscordBotNotifier(rest, CHANNEL).send(message, idempotency_key=message.key)
    [posted] = fake_discord.messages
    assert posted.payload["allowed_mentions"] == {"parse": [], "users": [111111111111111111]}
    assert posted.payload["content"] == "<@111111111111111111>"
    texts = [posted.embed["title"], posted.embed["footer"]["text"]]
    assert all(find_mentions(text, "discord") == [] for text in texts)


def test_many_long_fields_fit_every_limit(fake_discord, rest):
    fields = tuple((f"leg {i} " + "n" * 300, "v" * 2000) for i in range(30))
    message = build_alert_message(replace(make_event(), fields=fields))
    DiscordBotNotifier(rest, CHANNEL).send(message, idempotency_key=message.key)
    embed = fake_discord.messages[0].embed
    assert len(embed["fields"]) <= 25
    assert all(len(f["name"]) <= 256 and len(f["value"]) <= 1024 for f in embed["fields"])
    assert embed_length(embed) <= 6000


def test_fake_rejects_oversized_embeds_like_discord(fake_discord, rest):
    async def post_raw() -> None:
        http = await rest.login()
        params = discord.http.handle_message_parameters(embed=discord.Embed(description="x" * 4097))
        await http.send_message(int(CHANNEL), params=params)

    with pytest.raises(PermanentError) as caught:
        rest.runner.run(post_raw)
    assert "400" in caught.value.reason and "50035" in caught.value.reason
    assert fake_discord.messages == []


def test_webhook_post_with_chart_and_no_secret_in_its_name(fake_discord):
    notifier = DiscordWebhookNotifier(WEBHOOK, api_base=fake_discord.api_base)
    try:
        message = build_alert_message(make_event(), PNG)
        result = notifier.send(message, idempotency_key=message.key)
    finally:
        notifier.close()
    [posted] = fake_discord.messages
    assert result.message_id == posted.id
    assert posted.via == "webhook:223456789012345678"
    assert posted.files == {"chart.png": PNG}
    assert notifier.name == "discord:webhook:223456789012345678"
    assert "w" * 20 not in notifier.name
    assert notifier.find_existing(message.key, since=SINCE) is None


def test_error_mapping_separates_rate_limits_from_permanent_failures():
    limited = delivery_error(discord.RateLimited(42.0))
    assert limited.retry_after == 42.0
    assert isinstance(delivery_error(discord.LoginFailure("bad")), PermanentError)


def test_malformed_subscriber_ids_are_dropped_not_pinged():
    message = build_alert_message(make_event()).with_mentions(["42", "@everyone"])
    assert mention_content(message) == "<@42>"
    assert allowed_mentions(message).to_dict() == {"parse": [], "users": [42]}


def test_ids_that_only_look_numeric_are_dropped_instead_of_failing_the_post():
    # "²" passes str.isdigit() but not int(), and a 30-digit id is no Discord snowflake.
    message = build_alert_message(make_event()).with_mentions(["42", "²", "4" * 30])
    assert mention_content(message) == "<@42>"
    assert allowed_mentions(message).to_dict() == {"parse": [], "users": [42]}

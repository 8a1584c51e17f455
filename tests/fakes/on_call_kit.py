"""Shared pieces of the on-call tests: settings for both fake platforms, posts by place."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from bot.config import Settings, load_settings
from tests.fakes.discord_api import Posted
from tests.fakes.discord_interactions import CHANNEL, FakeDiscordApp
from tests.fakes.slack_api import CHANNEL_ID, FakeSlack, SlackPost

ALICE, BOB, CAROL = "42", "43", "44"  # Discord user ids
SLACK_ANN, SLACK_BEN = "U0ANN", "U0BEN"  # Slack user ids
RULE = "iwc_over_oef_ytd"  # the rule of tests.fakes.delivery_kit.make_event


def desk_settings(
    discord: FakeDiscordApp, slack: FakeSlack | None = None, **extra: Any
) -> Settings:
    """A Discord bot channel (and a Slack bot channel) pointed at the fakes."""
    values: dict[str, Any] = {
        "discord_bot_token": SecretStr(discord.token),
        "discord_channel_ids": (CHANNEL,),
        "discord_api_base": discord.api_base,
    }
    if slack is not None:
        values |= {
            "slack_bot_token": SecretStr(slack.token),
            "slack_channel": CHANNEL_ID,
            "slack_api_url": slack.api_url,
        }
    return load_settings(None, **(values | extra))


def channel_posts(fake: FakeDiscordApp) -> list[Posted]:
    """Messages the bot posted in the alert channel."""
    return [m for m in fake.messages if m.channel_id == CHANNEL]


def dm_posts(fake: FakeDiscordApp, user_id: str) -> list[Posted]:
    """Messages the bot sent to one user by DM."""
    channel = fake.dm_channels.get(user_id)
    return [m for m in fake.messages if channel is not None and m.channel_id == channel]


def slack_channel_posts(fake: FakeSlack) -> list[SlackPost]:
    """Messages posted in the Slack alert channel."""
    return [p for p in fake.messages if p.channel == CHANNEL_ID]


def slack_dm_posts(fake: FakeSlack) -> list[SlackPost]:
    """Messages posted in Slack DM channels (ids starting with D)."""
    return [p for p in fake.messages if p.channel.startswith("D")]


def slack_text(post: SlackPost) -> str:
    """Every text of a Slack post (fallback text and blocks), for mention checks."""
    return str(post.payload.get("text", "")) + str(post.payload.get("blocks", ""))

"""One Discord alert post as discord.py objects: embed, chart file, allowed mentions, buttons.

The payload itself (embed fields, custom ids, mention text) is built, pure, in
`bot.delivery.discord_alert`; `bot.delivery.discord` posts what this module assembles.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import discord

from bot.delivery.discord_alert import (
    CHART_NAME,
    ack_custom_id,
    alert_embed,
    mention_content,
    mute_custom_id,
)
from bot.delivery.message import AlertMessage, subscriber_ids
from bot.platforms import DISCORD


def to_discord_embed(message: AlertMessage) -> discord.Embed:
    """The alert as one embed within Discord's limits: colour, fields, date, footer, chart."""
    return discord.Embed.from_dict(alert_embed(message))


def allowed_mentions(message: AlertMessage) -> discord.AllowedMentions:
    """Nobody may be pinged except the subscribers the message names."""
    users = [discord.Object(int(user_id)) for user_id in subscriber_ids(message, DISCORD.name)]
    return discord.AllowedMentions(everyone=False, roles=False, replied_user=False, users=users)


@dataclass
class Post:
    content: str | None
    embed: discord.Embed
    file: discord.File | None
    allowed_mentions: discord.AllowedMentions


def build_post(message: AlertMessage) -> Post:
    """The embed, chart file and allowed mentions of one alert post."""
    chart = discord.File(io.BytesIO(message.chart_png), CHART_NAME) if message.chart_png else None
    return Post(
        mention_content(message), to_discord_embed(message), chart, allowed_mentions(message)
    )


def ack_button(key: str) -> discord.ui.Button[Any]:
    """The Acknowledge button of an alert (its custom id carries the alert key)."""
    return discord.ui.Button(
        label="Acknowledge", style=discord.ButtonStyle.primary, custom_id=ack_custom_id(key)
    )


def mute_button(rule_id: str) -> discord.ui.Button[Any]:
    """The Mute 1 day button of an alert (its custom id carries the rule id)."""
    return discord.ui.Button(
        label="Mute 1 day", style=discord.ButtonStyle.secondary, custom_id=mute_custom_id(rule_id)
    )


def alert_view(message: AlertMessage) -> discord.ui.View:
    """The alert's buttons: Acknowledge (fired alerts only) and Mute 1 day."""
    view = discord.ui.View(timeout=None)
    if message.kind == "fired":
        view.add_item(ack_button(message.key))
    view.add_item(mute_button(message.rule_id))
    return view

"""The alert buttons, Acknowledge and Mute 1 day, answered over the gateway.

Dynamic custom ids (`bot.delivery.discord_alert`), so a restarted bot still answers the
buttons of alerts posted before it started. The buttons themselves are drawn by
`bot.delivery.discord.ack_button` / `mute_button`, the same ones the alert was posted with.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import discord

from bot.chat.discord.answering import (
    NO_MENTIONS,
    Interaction,
    actor_of,
    core_of,
    guarded,
    send_private,
)
from bot.chat.discord.format import acknowledged_embed
from bot.delivery.discord import ack_button, mute_button
from bot.delivery.discord_alert import ACK_PREFIX, ACK_TEMPLATE, MUTE_TEMPLATE, key_from_footer
from bot.platforms import DISCORD, neutralise_discord
from bot.safety import sanitize


class AckButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=ACK_TEMPLATE):
    """Acknowledge: records who and when, then edits the alert to show it."""

    def __init__(self, key: str) -> None:
        super().__init__(ack_button(key))
        self.key = key

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AckButton:
        """Rebuild the button from a pressed custom id."""
        return cls(match["key"])

    async def callback(self, interaction: Interaction) -> None:
        """Record the acknowledgement and edit the alert (or say who was first)."""
        await guarded(interaction, acknowledge_alert(interaction, self.key))


class MuteButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=MUTE_TEMPLATE):
    """Mute 1 day: admins only; anyone else gets a private refusal."""

    def __init__(self, rule_id: str) -> None:
        super().__init__(mute_button(rule_id))
        self.rule_id = rule_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> MuteButton:
        """Rebuild the button from a pressed custom id."""
        return cls(match["rule"])

    async def callback(self, interaction: Interaction) -> None:
        """Mute the rule for a day through the command core."""
        await guarded(interaction, mute_from_alert(interaction, self.rule_id))


async def acknowledge_alert(interaction: Interaction, key: str) -> None:
    """Defer the update, record the ack, edit the alert; a later presser is told privately."""
    await interaction.response.defer()
    embeds = [e.to_dict() for e in interaction.message.embeds] if interaction.message else []
    key = key or key_from_footer(embeds)  # type: ignore[arg-type]
    core = core_of(interaction)
    reply = await asyncio.to_thread(core.acknowledge, actor_of(interaction), key)
    if not reply.first or not embeds:
        await send_private(interaction, sanitize(reply, DISCORD.name).text)
    else:
        who = neutralise_discord(interaction.user.display_name)
        embeds[0] = acknowledged_embed(embeds[0], who, reply.acked_at)  # type: ignore[arg-type]
        await interaction.edit_original_response(
            embeds=[discord.Embed.from_dict(e) for e in embeds],  # type: ignore[arg-type]
            view=acknowledged_view(interaction.message),
            allowed_mentions=NO_MENTIONS,
        )
    if reply.first:  # the same alert elsewhere: the other platform, other channels, DMs
        pressed = str(interaction.message.id) if interaction.message else None
        name = interaction.user.display_name
        await asyncio.to_thread(core.show_ack_everywhere, reply, name, pressed)


def acknowledged_view(message: discord.Message | None) -> discord.ui.View | None:
    """The alert's buttons with Acknowledge disabled and relabelled."""
    if message is None:
        return None
    view = discord.ui.View.from_message(message, timeout=None)
    for item in view.children:
        if isinstance(item, discord.ui.Button) and (item.custom_id or "").startswith(ACK_PREFIX):
            item.disabled, item.label = True, "Acknowledged"
    return view


async def mute_from_alert(interaction: Interaction, rule_id: str) -> None:
    """Mute for one day (admins); the result is public, a refusal private."""
    await interaction.response.defer()
    core = core_of(interaction)
    reply = await asyncio.to_thread(core.mute, actor_of(interaction), rule_id, "1d")
    who = neutralise_discord(interaction.user.display_name)
    text = f"{sanitize(reply, 'discord').text.rstrip('.')}, by {who}."
    await interaction.followup.send(text, allowed_mentions=NO_MENTIONS)

"""`/rule` on Discord: the one-line command, its preview embed and the Save/Cancel buttons.

The command answers publicly (the desk sees what is proposed) with the preview, its chart
and two buttons whose dynamic custom ids carry the preview's token, so a restarted bot or
another replica still answers them. The core decides everything (admins, expiry, a second
press); a refusal is one private line.
"""

from __future__ import annotations

import asyncio
import io
import re
from typing import Any

import discord
from discord import app_commands

from bot.chat.chart_pool import chart_pool
from bot.chat.discord.answering import (
    NO_MENTIONS,
    Interaction,
    actor_of,
    core_of,
    guarded,
    send_private,
)
from bot.chat.discord.format import (
    describe,
    error_payload,
    track_record_field,
    with_track_chart,
)
from bot.chat.parsing import CommandError
from bot.chat.replies import Reply, RulePreview
from bot.chat.reply_chart import render_reply_chart
from bot.chat.rule_forms import split_words
from bot.chat.rule_text import CANCEL, SAVE, backtest_line, event_lines, expiry_line, heading
from bot.delivery.discord_alert import CHART_NAME, embed_field, with_chart
from bot.delivery.limits import fit_discord_embeds, trim
from bot.delivery.message import COLOURS
from bot.platforms import DISCORD, neutralise_discord
from bot.safety import sanitize

RULE_PREFIX = "rot:rule:"
RULE_TEMPLATE = r"rot:rule:(?P<verb>save|cancel):(?P<token>[A-Za-z0-9_-]{1,64})"
COMMAND_HELP = "e.g. new spread IWM IWB 42d above 400bps · edit ID confirm=2 · disable ID"


def rule_custom_id(verb: str, token: str) -> str:
    """The custom id of a preview's Save or Cancel button."""
    return f"{RULE_PREFIX}{verb}:{token}"


def preview_button(verb: str, token: str) -> discord.ui.Button[Any]:
    """Save (green) or Cancel (grey) for the preview `token`."""
    style = discord.ButtonStyle.success if verb == SAVE else discord.ButtonStyle.secondary
    return discord.ui.Button(
        label=verb.capitalize(), style=style, custom_id=rule_custom_id(verb, token)
    )


def preview_view(token: str) -> discord.ui.View:
    """The preview's two buttons."""
    view = discord.ui.View(timeout=None)
    for verb in (SAVE, CANCEL):
        view.add_item(preview_button(verb, token))
    return view


def preview_embed(preview: RulePreview, *, chart: bool) -> dict[str, Any]:
    """The rule as it will be stored (TOML), its backtest, last five events and chart."""
    embed = {
        "title": trim(f"Preview: {heading(preview)}", 256),
        "description": trim(f"```toml\n{preview.toml}```", 4000),
        "color": COLOURS["neutral"],
        "fields": [
            embed_field("Backtest since 2000", backtest_line(preview), inline=False),
            embed_field("Last five events", "\n".join(event_lines(preview)), inline=False),
        ],
        "footer": {"text": expiry_line(preview)},
    }
    if preview.track_record is not None:
        embed["fields"] += [track_record_field(preview.track_record)]
    return with_chart(embed, chart)


@app_commands.command(name="rule", description=describe("rule"))
@app_commands.describe(command=COMMAND_HELP)
async def rule_command(interaction: Interaction, command: str) -> None:
    """Create or change a rule (admins): a preview with Save and Cancel, or the change made."""
    core, actor = core_of(interaction), actor_of(interaction)
    interaction.extras["public_defer"] = True
    await interaction.response.defer(thinking=True)  # the backtest may take a moment

    def work() -> tuple[Reply, bytes | None]:
        reply = core.rule(actor, split_words(command))
        if not isinstance(reply, RulePreview):
            return reply, None
        return reply, render_reply_chart(core.db, reply.chart, reply.title)

    try:
        reply, png = await chart_pool().run(work)  # backtest and chart: CPU, so the pool
    except CommandError as error:
        await send_private(interaction, error.message)
        return
    await _send(interaction, reply, png)


async def _send(interaction: Interaction, reply: Reply, png: bytes | None) -> None:
    safe = sanitize(reply, DISCORD.name)
    kwargs: dict[str, Any] = {"allowed_mentions": NO_MENTIONS}
    if isinstance(reply, RulePreview) and isinstance(safe, RulePreview):
        embed = preview_embed(safe, chart=png is not None)
        payload = with_track_chart({"content": None, "embeds": [embed]}, reply.track_record)
        embeds = fit_discord_embeds(payload["embeds"])
        kwargs["embeds"] = [discord.Embed.from_dict(e) for e in embeds]
        kwargs["view"] = preview_view(reply.token)
        files = ({CHART_NAME: png} if png is not None else {}) | payload.get("files", {})
        if files:
            kwargs["files"] = [discord.File(io.BytesIO(data), name) for name, data in files.items()]
    else:
        kwargs["content"] = error_payload(safe.text)["content"]
    await interaction.followup.send(**kwargs)


class RulePreviewButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=RULE_TEMPLATE):
    """Save or Cancel on a rule preview: admins only; the outcome is public, a refusal private."""

    def __init__(self, verb: str, token: str) -> None:
        super().__init__(preview_button(verb, token))
        self.verb, self.token = verb, token

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> RulePreviewButton:
        """Rebuild the button from a pressed custom id."""
        return cls(match["verb"], match["token"])

    async def callback(self, interaction: Interaction) -> None:
        """Settle the preview through the core, then take the buttons off it."""
        await guarded(interaction, settle_preview(interaction, self.verb, self.token))


async def settle_preview(interaction: Interaction, verb: str, token: str) -> None:
    """Save or discard; the preview loses its buttons and the channel is told who did it."""
    await interaction.response.defer()
    core, actor = core_of(interaction), actor_of(interaction)
    method = core.save_preview if verb == SAVE else core.cancel_preview
    reply = await asyncio.to_thread(method, actor, token)
    await interaction.edit_original_response(view=None)
    who = neutralise_discord(interaction.user.display_name)
    text = f"{sanitize(reply, DISCORD.name).text.rstrip('.')} (by {who})."
    await interaction.followup.send(text, allowed_mentions=NO_MENTIONS)

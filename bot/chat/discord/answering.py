"""Answering a Discord interaction: the core call in a thread, then one response.

Shared by the slash commands and the alert buttons: `answer` defers, runs the blocking
command core in a worker thread and follows up (over HTTP it defers only if asked: the
endpoint defers the others after `DEFER_AFTER`); `answer_now` replies at once to what needs
no thread; a `CommandError` becomes one private line. `core_of` / `actor_of` read who asked
and which command core serves them from the client that received the interaction.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.chat import parsing
from bot.chat.chart_pool import Busy, chart_pool
from bot.chat.discord.format import Payload, format_reply
from bot.chat.discord.http_mode import over_http
from bot.chat.on_call import make_actor
from bot.chat.parsing import GENERIC_ERROR, CommandError
from bot.chat.replies import Actor, Reply
from bot.delivery.discord_alert import CHART_NAME
from bot.delivery.limits import fit_discord_content
from bot.platforms import DISCORD, neutralise_discord
from bot.safety import sanitize

if TYPE_CHECKING:
    from bot.chat.core import Commands
    from bot.chat.discord.client import RotationClient

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]
NO_MENTIONS = discord.AllowedMentions.none()
Answer = tuple[Reply, "bytes | None"]


def plain(method: Callable[..., Reply], *args: Any) -> Callable[[], Answer]:
    """A blocking core call without a chart."""
    return lambda: (method(*args), None)


async def answer(
    interaction: Interaction,
    work: Callable[[], Answer],
    *,
    defer: bool = False,
    ephemeral: bool = False,
    charted: bool = False,
) -> None:
    """Defer, run `work` in a thread, then follow up (CommandError: one private line).

    Over the gateway every such answer is deferred at once: under load (charts queued, a busy
    database) the thread may start after Discord's 3 s. Over HTTP only when `defer`: the
    endpoint defers the others privately after 0.25 s, and a public defer of ours arriving
    after that could not change the deferral's visibility. Charted work runs in the chart
    pool, a few per user; beyond that the user is told at once (before any defer) when to
    try again.
    """
    defer = defer or not over_http()
    if not charted:
        await _answer(interaction, work, asyncio.to_thread, defer=defer, ephemeral=ephemeral)
        return
    pool, user = chart_pool(), f"{DISCORD.name}:{interaction.user.id}"
    try:
        pool.enter(user)
    except Busy as busy:
        await send_private(interaction, busy.message)
        return
    try:
        await _answer(interaction, work, pool.run, defer=defer, ephemeral=ephemeral)
    finally:
        pool.leave(user)


async def _answer(
    interaction: Interaction,
    work: Callable[[], Answer],
    run: Callable[[Callable[[], Answer]], Awaitable[Answer]],
    *,
    defer: bool,
    ephemeral: bool,
) -> None:
    if defer:
        interaction.extras["public_defer"] = not ephemeral
        await interaction.response.defer(thinking=True, ephemeral=ephemeral)
    try:
        reply, png = await run(work)
    except CommandError as error:
        await send_private(interaction, error.message)
        return
    payload = format_reply(sanitize(reply, DISCORD.name), chart=png is not None)
    await send_payload(interaction, payload, png, ephemeral=ephemeral)


async def answer_now(interaction: Interaction, reply: Reply, *, ephemeral: bool) -> None:
    """Reply at once, without a thread, to what needs neither the database nor a chart."""
    payload = format_reply(sanitize(reply, DISCORD.name), chart=False)
    await send_payload(interaction, payload, None, ephemeral=ephemeral)


async def send_payload(
    interaction: Interaction, payload: Payload, png: bytes | None, *, ephemeral: bool
) -> None:
    """The reply as the interaction response, or as the follow-up after a defer."""
    kwargs: dict[str, Any] = {"ephemeral": ephemeral, "allowed_mentions": NO_MENTIONS}
    if payload["content"]:
        kwargs["content"] = payload["content"]
    if payload["embeds"]:
        kwargs["embeds"] = [discord.Embed.from_dict(e) for e in payload["embeds"]]
    files = {CHART_NAME: png} if png is not None else {}
    files |= payload.get("files") or {}  # more images a reply carries (a track record's fan)
    if files:
        kwargs["files"] = [discord.File(io.BytesIO(data), name) for name, data in files.items()]
    if interaction.response.is_done():
        await interaction.followup.send(**kwargs)
    else:
        await interaction.response.send_message(**kwargs)


async def send_private(interaction: Interaction, text: str) -> None:
    """One ephemeral line; after a public defer the "thinking" message is removed first."""
    content = fit_discord_content(neutralise_discord(parsing.one_line(text)))
    if not interaction.response.is_done():
        await interaction.response.send_message(
            content, ephemeral=True, allowed_mentions=NO_MENTIONS
        )
        return
    if interaction.extras.pop("public_defer", False):
        # The first follow-up inherits a public defer's visibility: delete it to stay private.
        await interaction.delete_original_response()
    await interaction.followup.send(content, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def guarded(interaction: Interaction, work: Awaitable[None]) -> None:
    """Run a button handler: a CommandError answers privately, anything else is logged."""
    try:
        await work
    except CommandError as error:
        await safely(send_private(interaction, error.message))
    except Exception:
        log.exception("button %s failed", _custom_id(interaction))
        await safely(send_private(interaction, GENERIC_ERROR))


async def safely(reply: Awaitable[None]) -> None:
    """Send an error reply; a reply Discord refuses is logged, never raised."""
    try:
        await reply
    except discord.HTTPException as error:
        log.warning("could not send an error reply: %s", error)


def _custom_id(interaction: Interaction) -> str:
    data = interaction.data or {}
    return str(data.get("custom_id", "?"))[:40]


def core_of(interaction: Interaction) -> Commands:
    """The command core of the client that received the interaction."""
    return cast("RotationClient", interaction.client).core


def actor_of(interaction: Interaction) -> Actor:
    """Who pressed or typed: user id and, in a guild, role ids (for the admin check)."""
    client = cast("RotationClient", interaction.client)
    # Member._roles holds the interaction's role ids even when the guild is not cached;
    # discord.py's own app_commands.checks.has_role reads it the same way.
    roles = [str(role) for role in getattr(interaction.user, "_roles", ())]
    return make_actor(client.settings, DISCORD.name, str(interaction.user.id), roles)

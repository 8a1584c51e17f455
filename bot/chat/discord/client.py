"""The Discord command bot: client, command tree and the gateway loop (`run_discord`).

`RotationClient` registers the slash commands (`bot.chat.discord.commands`) and the alert
buttons (`bot.chat.discord.buttons`); `run_discord` keeps it connected, with backoff, until
the service cancels it. Alert posting is the delivery side's (`bot.delivery.discord`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import AppCommandError

from bot.chat.cancelling import being_cancelled
from bot.chat.discord.answering import NO_MENTIONS, Interaction, safely, send_private
from bot.chat.discord.buttons import AckButton, MuteButton
from bot.chat.discord.commands import SLASH_COMMANDS
from bot.chat.discord.http_mode import serve_interactions
from bot.chat.discord.rules import RulePreviewButton
from bot.chat.parsing import GENERIC_ERROR, CommandError
from bot.chat.replays import SharedReplays
from bot.config import Settings
from bot.delivery.discord import configure_api_base, delivery_error

if TYPE_CHECKING:
    from bot.chat.core import Commands

log = logging.getLogger(__name__)


class RotationTree(app_commands.CommandTree["RotationClient"]):
    """The command tree: any failure becomes one private line, never a crash."""

    async def on_error(self, interaction: Interaction, error: AppCommandError, /) -> None:
        """CommandError (also from a Transformer): its line; anything else: logged, generic."""
        cause = _command_error(error)
        if cause is None:
            name = interaction.command.name if interaction.command else "?"
            log.error("command /%s failed", name, exc_info=error)
        await safely(send_private(interaction, cause.message if cause else GENERIC_ERROR))


def _command_error(error: BaseException) -> CommandError | None:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, CommandError):
            return seen
        seen = seen.__cause__ or getattr(seen, "original", None)
    return None


class RotationClient(discord.Client):
    """The command bot: slash commands and alert buttons, over the shared command core.

    No privileged intents: interactions arrive without any. Commands are synced globally in
    `setup_hook` (pass `sync=False` to skip, e.g. when another instance already did).
    """

    def __init__(self, core: Commands, settings: Settings, *, sync: bool = True) -> None:
        super().__init__(intents=discord.Intents(guilds=True), allowed_mentions=NO_MENTIONS)
        self.core, self.settings, self.sync_commands = core, settings, sync
        self.tree = RotationTree(self)
        for command in SLASH_COMMANDS:
            self.tree.add_command(command)

    async def setup_hook(self) -> None:
        """Register the alert buttons and sync the slash commands."""
        self.add_dynamic_items(AckButton, MuteButton, RulePreviewButton)
        if not self.sync_commands:
            return
        try:
            synced = await self.tree.sync()
        except discord.HTTPException as error:  # commands synced earlier keep working
            log.error("syncing Discord commands failed: %s", delivery_error(error).reason)
            return
        log.info("synced %d Discord commands", len(synced))


async def run_discord(
    settings: Settings,
    core: Commands,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    max_delay: float = 300.0,
) -> None:
    """Log in, sync commands once and serve interactions until cancelled (the service's task).

    A lost or unreachable gateway is retried with backoff (discord.py itself gives up when the
    very first connection fails); a rejected token is logged and raised.
    """
    if settings.discord_bot_token is None:
        raise ValueError("DISCORD_BOT_TOKEN is not set")
    token = settings.discord_bot_token.get_secret_value()
    configure_api_base(settings.discord_api_base)
    if settings.discord_mode == "http":
        await run_discord_http(settings, core, token, sleep=sleep, max_delay=max_delay)
        return
    synced = False

    async def serve_gateway() -> None:
        nonlocal synced
        async with RotationClient(core, settings, sync=not synced) as client:
            await client.login(token)
            synced = True
            await client.connect(reconnect=True)

    await _with_backoff(serve_gateway, "gateway", "reconnecting", sleep, max_delay)


async def _with_backoff(
    attempt: Callable[[], Awaitable[None]],
    what: str,
    then: str,
    sleep: Callable[[float], Awaitable[None]],
    max_delay: float,
) -> None:
    """Run `attempt` until it returns: a rejected token is logged and raised, any other
    failure is retried after 5 s, doubling up to `max_delay`."""
    delay = 5.0
    while True:
        try:
            await attempt()
            return
        except discord.LoginFailure:
            log.error("Discord rejected the bot token; the Discord bot is not running")
            raise
        except Exception as error:
            if being_cancelled():
                # A cancel the SDK turned into a failure (a timeout racing the cancel, in
                # asyncio/aiohttp): retrying would keep a stopping service alive forever.
                raise asyncio.CancelledError from error
            reason = delivery_error(error).reason
            log.warning("Discord %s failed (%s); %s in %.0f s", what, reason, then, delay)
        await sleep(delay)
        delay = min(delay * 2, max_delay)


async def run_discord_http(
    settings: Settings,
    core: Commands,
    token: str,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    max_delay: float = 300.0,
    host: str = "0.0.0.0",  # noqa: S104  (Discord must reach it; put TLS in front)
    started: asyncio.Event | None = None,
) -> None:
    """HTTP mode: log in over REST (no gateway session), then serve the interactions endpoint.

    Every replica logs in and serves; only commands are synced by each, which is idempotent.
    """
    if settings.discord_public_key is None:
        raise ValueError("DISCORD_PUBLIC_KEY is required in HTTP mode (DISCORD_MODE=http)")
    async with RotationClient(core, settings) as client:
        await _with_backoff(lambda: client.login(token), "login", "retrying", sleep, max_delay)
        public_key, port = settings.discord_public_key, settings.discord_http_port
        shared = SharedReplays(lambda: core.db)  # a replay to any replica is refused
        await serve_interactions(client, public_key, host, port, started=started, shared=shared)

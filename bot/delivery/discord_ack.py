"""Discord's copy of an alert acknowledged elsewhere: fetch the posted message, edit it.

Through the same REST client as posting (`bot.delivery.discord.DiscordRest`): GET the message,
add the `Acknowledged` field and disable its button (`discord_alert.acknowledged_layout`), PATCH
it. Errors come back as DeliveryErrors, for `bot.delivery.ack_copies` to retry or report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.config import Settings
from bot.delivery.discord import DiscordBotNotifier, DiscordDmNotifier, DiscordRest
from bot.delivery.discord_alert import acknowledged_layout
from bot.delivery.message import PermanentError
from bot.platforms import DISCORD

if TYPE_CHECKING:
    from bot.delivery.ack_copies import AckNote


def edit_acknowledged(settings: Settings, destination: str, message_id: str, note: AckNote) -> None:
    """Add who acknowledged (and where) to a posted alert and disable its button."""
    if settings.discord_bot_token is None or destination.startswith(f"{DISCORD.name}:webhook:"):
        raise PermanentError("only the bot's own posts can be edited (a webhook's cannot)")
    token = settings.discord_bot_token.get_secret_value()
    rest = DiscordRest(
        token, api_base=settings.discord_api_base, timeout=settings.request_timeout_seconds
    )
    try:
        rest.runner.run(lambda: _edit(rest, destination, message_id, note))
    finally:
        rest.close()


async def _edit(rest: DiscordRest, destination: str, message_id: str, note: AckNote) -> None:
    http = await rest.login()
    name = destination.removeprefix(f"{DISCORD.name}:")
    user_id = name.removeprefix("dm:") if name.startswith("dm:") else None
    notifier = DiscordDmNotifier(rest, user_id) if user_id else DiscordBotNotifier(rest, name)
    channel = await notifier.target(http)  # a DM's channel is opened (Discord returns the same)
    data = await http.get_message(channel, message_id)
    body = acknowledged_layout(data, note.who, note.platform, note.moment)
    await rest.patch_message(channel, message_id, body)

"""Build the configured destinations from Settings: Discord, Slack, or the console by default.

The platform adapters are imported only when configured, so a console-only setup never loads
discord.py or slack_sdk.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from bot.config import Settings
from bot.delivery.message import Notifier

log = logging.getLogger(__name__)


def build_notifiers(settings: Settings) -> list[Notifier]:
    """One notifier per configured destination; the console when none is configured."""
    notifiers: list[Notifier] = [*_discord_notifiers(settings), *_slack_notifiers(settings)]
    if not notifiers:
        from bot.delivery.console import ConsoleNotifier

        notifiers.append(ConsoleNotifier())
    log.debug("destinations: %s", ", ".join(n.name for n in notifiers))
    return notifiers


def _discord_notifiers(settings: Settings) -> list[Notifier]:
    if not settings.discord_enabled:
        return []
    from bot.delivery import discord as discord_posting

    notifiers: list[Notifier] = []
    if settings.discord_bot_token is not None and settings.discord_channel_ids:
        rest = discord_posting.DiscordRest(
            settings.discord_bot_token.get_secret_value(), api_base=settings.discord_api_base
        )
        notifiers += [
            discord_posting.DiscordBotNotifier(rest, c) for c in settings.discord_channel_ids
        ]
    if settings.discord_webhook_url is not None:
        url = settings.discord_webhook_url.get_secret_value()
        notifiers.append(
            discord_posting.DiscordWebhookNotifier(url, api_base=settings.discord_api_base)
        )
    return notifiers


def _slack_notifiers(settings: Settings) -> list[Notifier]:
    if not settings.slack_enabled:
        return []
    from bot.delivery import slack as slack_posting

    notifiers: list[Notifier] = []
    if settings.slack_bot_token is not None and settings.slack_channel is not None:
        token = settings.slack_bot_token.get_secret_value()
        notifiers.append(
            slack_posting.SlackBotNotifier(
                token, settings.slack_channel, api_base=settings.slack_api_url
            )
        )
    if settings.slack_webhook_url is not None:
        notifiers.append(
            slack_posting.SlackWebhookNotifier(settings.slack_webhook_url.get_secret_value())
        )
    return notifiers


def dm_platforms(settings: Settings) -> tuple[str, ...]:
    """Platforms that can send direct messages: those with a bot token (and a Slack channel)."""
    platforms = []
    if settings.discord_bot_token is not None:
        platforms.append("discord")
    if settings.slack_bot_token is not None and settings.slack_channel is not None:
        platforms.append("slack")
    return tuple(platforms)


def dm_notifiers(
    settings: Settings, destinations: Iterable[str], notifiers: Sequence[Notifier]
) -> list[Notifier]:
    """DM notifiers for the `discord:dm:<id>` / `slack:dm:<id>` names in `destinations`.

    They share the channel notifiers' clients (one Discord HTTP session, one Slack client).
    Names no configured platform can serve are left out: the sender logs those rows as waiting.
    """
    names = [d for d in dict.fromkeys(destinations) if d.startswith(("discord:dm:", "slack:dm:"))]
    found: list[Notifier] = []
    discord_ids = [n.removeprefix("discord:dm:") for n in names if n.startswith("discord:dm:")]
    if discord_ids and "discord" in dm_platforms(settings):
        found += _discord_dms(settings, discord_ids, notifiers)
    slack_bot = next((n for n in notifiers if hasattr(n, "for_destination")), None)
    for name in (n for n in names if n.startswith("slack:dm:") and slack_bot is not None):
        try:
            found.append(slack_bot.for_destination(name))  # type: ignore[union-attr]
        except Exception as error:  # a malformed id: its rows wait, visibly
            log.warning("no DM destination %s: %s", name, error)
    return found


def _discord_dms(
    settings: Settings, user_ids: list[str], notifiers: Sequence[Notifier]
) -> list[Notifier]:
    from bot.delivery import discord as discord_posting

    bots = (n for n in notifiers if isinstance(n, discord_posting.DiscordBotNotifier))
    rest = next((n.rest for n in bots), None)
    if rest is None:
        assert settings.discord_bot_token is not None
        rest = discord_posting.DiscordRest(
            settings.discord_bot_token.get_secret_value(), api_base=settings.discord_api_base
        )
    return discord_posting.dm_notifiers(rest, user_ids)


def close_notifiers(notifiers: Iterable[Notifier], *, keep: Iterable[Notifier] = ()) -> None:
    """Release HTTP sessions and event loops the notifiers hold (each closed once).

    Args:
        keep: notifiers still in use; their sessions (shared by DM notifiers) stay open.
    """
    closed = {id(r) for n in keep for r in (n, getattr(n, "rest", None)) if r is not None}
    for notifier in notifiers:
        for resource in (notifier, getattr(notifier, "rest", None)):
            close = getattr(resource, "close", None)
            if close is not None and id(resource) not in closed:
                closed.add(id(resource))
                close()

"""Build the configured destinations from Settings: Discord, Slack, or the console by default.

The platform adapters are imported only when configured, so a console-only setup never loads
discord.py or slack_sdk.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot.config import Settings
from bot.notifier import Notifier

log = logging.getLogger(__name__)


def build_notifiers(settings: Settings) -> list[Notifier]:
    """One notifier per configured destination; the console when none is configured."""
    notifiers: list[Notifier] = [*_discord_notifiers(settings), *_slack_notifiers(settings)]
    if not notifiers:
        from bot.console_notifier import ConsoleNotifier

        notifiers.append(ConsoleNotifier())
    log.debug("destinations: %s", ", ".join(n.name for n in notifiers))
    return notifiers


def _discord_notifiers(settings: Settings) -> list[Notifier]:
    if not settings.discord_enabled:
        return []
    from bot import discord_app

    notifiers: list[Notifier] = []
    if settings.discord_bot_token is not None and settings.discord_channel_ids:
        rest = discord_app.DiscordRest(
            settings.discord_bot_token.get_secret_value(), api_base=settings.discord_api_base
        )
        notifiers += [discord_app.DiscordBotNotifier(rest, c) for c in settings.discord_channel_ids]
    if settings.discord_webhook_url is not None:
        url = settings.discord_webhook_url.get_secret_value()
        notifiers.append(
            discord_app.DiscordWebhookNotifier(url, api_base=settings.discord_api_base)
        )
    return notifiers


def _slack_notifiers(settings: Settings) -> list[Notifier]:
    if not settings.slack_enabled:
        return []
    from bot import slack_app

    notifiers: list[Notifier] = []
    if settings.slack_bot_token is not None and settings.slack_channel is not None:
        token = settings.slack_bot_token.get_secret_value()
        notifiers.append(
            slack_app.SlackBotNotifier(
                token, settings.slack_channel, api_base=settings.slack_api_url
            )
        )
    if settings.slack_webhook_url is not None:
        notifiers.append(
            slack_app.SlackWebhookNotifier(settings.slack_webhook_url.get_secret_value())
        )
    return notifiers


def close_notifiers(notifiers: Iterable[Notifier]) -> None:
    """Release HTTP sessions and event loops the notifiers hold (each closed once)."""
    closed: set[int] = set()
    for notifier in notifiers:
        for resource in (notifier, getattr(notifier, "rest", None)):
            close = getattr(resource, "close", None)
            if close is not None and id(resource) not in closed:
                closed.add(id(resource))
                close()

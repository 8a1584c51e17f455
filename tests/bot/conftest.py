"""Fixtures for tests under tests/bot: the local fake Discord and Slack servers."""

from tests.fakes.delivery_kit import fake_discord, fake_slack, rest
from tests.fakes.discord_kit import bot, discord_settings, fake_discord_app, seeded_db

__all__ = [
    "bot",
    "discord_settings",
    "fake_discord",
    "fake_discord_app",
    "fake_slack",
    "rest",
    "seeded_db",
]

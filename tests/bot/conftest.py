"""Fixtures for tests under tests/bot: the local fake Discord and Slack servers."""

from tests.fakes.delivery_kit import fake_discord, fake_slack

__all__ = ["fake_discord", "fake_slack"]

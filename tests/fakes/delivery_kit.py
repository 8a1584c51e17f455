"""Helpers shared by the delivery tests: fake servers as fixtures, a fake clock, sample events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.delivery.discord import DiscordRest
from signals.models import ChartSpec, Event
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.slack_api import FakeSlack

T0 = datetime(2026, 11, 20, 21, 30, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\nfake-chart-bytes"


class FakeClock:
    """An injectable clock: `sleep` advances `now` instead of waiting, and is recorded."""

    def __init__(self, start: datetime = T0) -> None:
        self.moment = start
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.moment += timedelta(seconds=seconds)


def make_event(
    day: int = 20,
    *,
    rule: str = "iwc_over_oef_ytd",
    title: str = "IWC overtook OEF YTD",
    description: str = "Micro caps lead large caps year to date.",
    kind: str = "fired",
) -> Event:
    """An event as the signal engine would emit it."""
    return Event(
        rule_id=rule,
        kind=kind,  # type: ignore[arg-type]
        date=date(2026, 11, day),
        episode=f"2026-11-{day:02d}",
        title=title,
        measure=1.37,
        threshold=0.0,
        unit="pp",
        direction="up",
        symbols=("IWC", "OEF"),
        description=description,
        fields=(("IWC YTD", "+14.20%"), ("OEF YTD", "+12.83%")),
        chart=ChartSpec("relative", ("IWC", "OEF"), date(2026, 1, 2), date(2026, 11, day)),
    )


@pytest.fixture
def fake_discord() -> Iterator[FakeDiscord]:
    """A running fake Discord API; discord.py's Route.BASE is restored afterwards."""
    from discord.http import Route

    base = Route.BASE
    fake = FakeDiscord().start()
    yield fake
    fake.stop()
    Route.BASE = base


@pytest.fixture
def rest(fake_discord: FakeDiscord) -> Iterator[DiscordRest]:
    """A DiscordRest client (the bot-token sender's HTTP side) on the fake Discord."""
    client = DiscordRest(fake_discord.token, api_base=fake_discord.api_base)
    yield client
    client.close()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    """A running fake Slack Web API and webhook endpoint."""
    fake = FakeSlack().start()
    yield fake
    fake.stop()

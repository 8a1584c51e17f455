"""Issue 23: `/signal ID` shows the track record table through both platforms' stand-ins."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from bot.calendar import sessions_between
from bot.chat.core import Commands
from bot.chat.discord.client import RotationClient
from bot.config import Settings
from bot.delivery.discord import configure_api_base
from signals.models import PriceBar
from signals.rules import parse_rule
from storage.db import open_db
from storage.prices import upsert_bars
from tests.bot.test_track_record_alert import sawtooth
from tests.fakes.discord_interactions import FakeDiscordApp
from tests.fakes.discord_kit import NOW, Harness
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_bolt_kit import serve, slack_settings

RULES = [
    parse_rule({"type": "new_high", "id": "x-high", "symbol": "X", "min_history": 2}),
    parse_rule({"type": "new_high", "id": "y-high", "symbol": "Y", "min_history": 2}),
]
# X sets 9 records 50 sessions apart, Y 3 (then repeats below them): the last 450 sessions.
DAYS = sessions_between(date(2023, 1, 3), NOW.date())[-450:]
LINE = "over the next 3 months"
Y_NOTE = "No track record line in alerts: only 3 past firings since"


@pytest.fixture
def db_file(db_path: Path) -> Path:
    db = open_db(db_path)
    x, y = sawtooth(9), sawtooth(3)
    bars = [PriceBar("X", d, close=c, adj_close=c) for d, c in zip(DAYS, x, strict=True)]
    bars += [PriceBar("Y", d, close=c, adj_close=c) for d, c in zip(DAYS, y * 3, strict=True)]
    upsert_bars(db, bars)
    db.close()
    return db_path


@pytest.fixture
async def discord(
    fake_discord_app: FakeDiscordApp, discord_settings: Settings, db_file: Path
) -> AsyncIterator[Harness]:
    configure_api_base(fake_discord_app.api_base)
    core = Commands.for_path(discord_settings, db_file, rules=RULES, clock=lambda: NOW)
    async with RotationClient(core, discord_settings) as client:
        await client.login(fake_discord_app.token)
        yield Harness(client, fake_discord_app)


def titles(fake: FakeSlack) -> list[str]:
    """Titles of the files uploaded so far (the fake runs in its own thread)."""
    return [u["title"] for u in list(fake.uploads.values()) if "title" in u]


def track_field(bot: Harness, token: str) -> str:
    embed = bot.fake.steps_for(token)[-1].message["embeds"][0]
    [field] = [f for f in embed["fields"] if f["name"] == "Track record"]
    return str(field["value"])


async def test_discord_signal_shows_the_table_and_the_alert_line(discord: Harness) -> None:
    token = await discord.command("signal", id="x-high")
    value = track_field(discord, token)
    heading, fence, header, _, three, six, fence_end, line = value.split("\n")
    assert heading.startswith("After each past firing, X return in %")
    assert (fence, fence_end) == ("```", "```")
    assert header.split()[:3] == ["horizon", "firings", "indep."]
    # 9 firings (rows 1, 50, ..., 400 of 0..449): 3M (63 sessions) has passed after 8 of
    # them, independent from rows 1, 100, 200, 300; 6M (126) after 7.
    assert three.split()[:3] == ["3M", "8", "4"] and six.split()[:2] == ["6M", "7"]
    assert line.startswith("Past 8 firings since 2024 (4 independent): X " + LINE)
    # The fan of past outcomes: a second embed showing a second file.
    followup = discord.fake.steps_for(token)[-1]
    _, fan = followup.message["embeds"]
    assert fan["image"] == {"url": "attachment://track-record.png"}
    assert followup.files["track-record.png"].startswith(b"\x89PNG")
    assert followup.files["chart.png"].startswith(b"\x89PNG")


async def test_discord_signal_says_why_a_rare_rule_has_no_line(discord: Harness) -> None:
    value = track_field(discord, await discord.command("signal", id="y-high"))
    assert Y_NOTE in value and "the alert shows a track record from 5" in value


async def test_slack_signal_shows_the_table_and_why_not(
    fake_slack: FakeSlack, db_file: Path
) -> None:
    settings = slack_settings(fake_slack)
    core = Commands.for_path(settings, db_file, rules=RULES, clock=lambda: NOW)
    async for bot in serve(fake_slack, core, settings):
        await bot.command("/rot-signal", "x-high")
        await bot.command("/rot-signal", "y-high")
        answers = await bot.answers(2)
        texts = {a["text"].split(":")[0]: str(a["blocks"]) for a in answers}
        x_high = next(v for k, v in texts.items() if "x-high" in k)
        y_high = next(v for k, v in texts.items() if "y-high" in k)
        assert "*Track record*: After each past firing, X return in %" in x_high
        assert "```" in x_high and "Past 8 firings since 2024 (4 independent)" in x_high
        assert Y_NOTE in y_high
        # Each rule's fan is uploaded beside its chart (Y's 3 firings draw one too).
        deadline = time.monotonic() + 10
        while len(titles(fake_slack)) < 4 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        assert {"x-high: track record", "y-high: track record"} <= set(titles(fake_slack))

"""A logged-in `RotationClient` against the fake Discord API, fed INTERACTION_CREATE payloads.

Payloads are built as Discord's gateway sends them and go through the client's real
connection state (`parse_interaction_create`), so the real `CommandTree`, transformers,
autocomplete and dynamic buttons run; every reply goes over HTTP to `FakeDiscordApp`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.chat.core import Commands
from bot.chat.discord.client import RotationClient
from bot.config import Settings, load_settings
from bot.delivery.discord import configure_api_base
from bot.safety import find_mentions
from signals.models import PriceBar
from signals.rules import parse_rule
from storage.db import open_db
from storage.prices import upsert_bars
from tests.fakes.discord_interactions import APP_ID, CHANNEL, FakeDiscordApp, Step

NOW = datetime(2026, 3, 2, 21, 0, tzinfo=UTC)
GUILD = "300000000000000001"
ADMIN_ROLE = "999"
RULES = [
    parse_rule({"type": "relative_crossover", "id": "iwc-over-spy", "a": "IWC", "b": "SPY"}),
    parse_rule({"type": "new_high", "id": "iwc-ath", "symbol": "IWC"}),
]
_TASKS = ("CommandTree-invoker", "discord-ui-dynamic-item")


def daily_bars(symbol: str, start: float, step: float) -> list[PriceBar]:
    """Weekday bars from 2024-09-02 to NOW's date, rising by `step` a session."""
    bars, day, value = [], date(2024, 9, 2), start
    while day <= NOW.date():
        if day.weekday() < 5:
            bars.append(PriceBar(symbol, day, close=value, adj_close=value, source="test"))
            value += step
        day += timedelta(days=1)
    return bars


@dataclass
class User:
    """Who sends an interaction."""

    id: str
    name: str = "alice"
    roles: tuple[str, ...] = ()


ALICE = User("42", "alice")
BOB = User("43", "@everyone")  # a display name that must never ping
ADMIN = User("7", "admin", roles=(ADMIN_ROLE,))


class Harness:
    """Sends interactions to a logged-in client and waits until it has answered."""

    def __init__(self, client: RotationClient, fake: FakeDiscordApp) -> None:
        self.client, self.fake = client, fake

    async def command(self, name: str, user: User = ALICE, **options: str) -> str:
        """Run `/name option=value ...`; returns the interaction token."""
        return await self._send(2, _command_data(name, options), user)

    async def autocomplete(
        self, name: str, focused: str, user: User = ALICE, **options: str
    ) -> str:
        """Ask for choices while the user types `options[focused]`."""
        data = _command_data(name, options)
        for option in data["options"]:
            option["focused"] = option["name"] == focused
        return await self._send(4, data, user)

    async def press(
        self, custom_id: str, message: dict[str, Any], user: User = ALICE, *, dm: bool = False
    ) -> str:
        """Press the button `custom_id` on a message (its JSON as Discord sends it)."""
        data = {"custom_id": custom_id, "component_type": 2}
        return await self._send(3, data, user, message=message, dm=dm)

    async def _send(
        self,
        kind: int,
        data: dict[str, Any],
        user: User,
        message: dict[str, Any] | None = None,
        dm: bool = False,
    ) -> str:
        message_id = message["id"] if message else None
        channel = message["channel_id"] if message else CHANNEL
        interaction_id, token = self.fake.open_interaction(
            kind, channel_id=channel, message_id=message_id
        )
        payload = interaction_payload(interaction_id, token, kind, data, user)
        if dm:
            payload = dm_payload(payload, channel)
        if message is not None:
            payload["message"] = message
        self.client._connection.parse_interaction_create(payload)  # the gateway's path
        await settle()
        return token


async def settle() -> None:
    """Wait for the command and button tasks the client started."""
    for _ in range(50):
        pending = [t for t in asyncio.all_tasks() if t.get_name().startswith(_TASKS)]
        pending = [t for t in pending if not t.done()]
        if not pending:
            return
        await asyncio.wait(pending, timeout=10)


def _command_data(name: str, options: dict[str, str]) -> dict[str, Any]:
    return {
        "id": "400000000000000001",
        "name": name,
        "type": 1,
        "options": [{"name": k, "type": 3, "value": v} for k, v in options.items()],
    }


def interaction_payload(
    interaction_id: str, token: str, kind: int, data: dict[str, Any], user: User
) -> dict[str, Any]:
    """An INTERACTION_CREATE payload from a guild text channel."""
    return {
        "id": interaction_id,
        "application_id": APP_ID,
        "type": kind,
        "token": token,
        "version": 1,
        "guild_id": GUILD,
        "channel_id": CHANNEL,
        "channel": {"id": CHANNEL, "type": 0, "guild_id": GUILD, "name": "desk", "position": 0},
        "member": {
            "user": {
                "id": user.id,
                "username": user.name,
                "global_name": user.name,
                "discriminator": "0",
                "avatar": None,
            },
            "roles": list(user.roles),
            "joined_at": "2024-01-02T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "permissions": "2248473465835073",
        },
        "data": data,
        "app_permissions": "2248473465835073",
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": GUILD},
        "context": 0,
        "attachment_size_limit": 26214400,
    }


def dm_payload(payload: dict[str, Any], channel_id: str) -> dict[str, Any]:
    """The same interaction sent from a DM: a `user` instead of a guild `member`."""
    user = payload.pop("member")["user"]
    del payload["guild_id"], payload["guild_locale"]
    recipients = [user]
    channel = {"id": channel_id, "type": 1, "recipients": recipients}
    return {**payload, "user": user, "channel_id": channel_id, "channel": channel, "context": 1}


def texts_of(step: Step) -> list[str]:
    """Every string a reply shows: content, embed texts and field names/values."""
    message = step.message
    found = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        found += [embed.get("title", ""), embed.get("description", "")]
        found.append(embed.get("footer", {}).get("text", ""))
        found += [f"{f['name']} {f['value']}" for f in embed.get("fields", [])]
    return found


def assert_no_pings(fake: FakeDiscordApp) -> None:
    """No reply shows a mention, and none may ping anyone."""
    for step in fake.steps:
        for text in texts_of(step):
            assert find_mentions(text, "discord") == [], (step.name, text)
        allowed = step.message.get("allowed_mentions")
        if step.action in ("followup", "edit_original") or step.message.get("content"):
            assert allowed == {"parse": []}, (step.name, allowed)


@pytest.fixture
def discord_settings() -> Settings:
    return load_settings(None, discord_admin_ids=(ADMIN_ROLE,))


@pytest.fixture
def seeded_db(db_path: Path) -> Path:
    """A database file with IWC and SPY bars (IWC rising faster)."""
    db = open_db(db_path)
    upsert_bars(db, daily_bars("IWC", 100.0, 0.3) + daily_bars("SPY", 500.0, 0.5))
    db.close()
    return db_path


@pytest.fixture
def fake_discord_app() -> Iterator[FakeDiscordApp]:
    """A running fake Discord API with interactions; discord.py's Route.BASE restored."""
    from discord.http import Route

    base = Route.BASE
    fake = FakeDiscordApp().start()
    yield fake
    fake.stop()
    Route.BASE = base


@pytest.fixture
async def bot(
    fake_discord_app: FakeDiscordApp, discord_settings: Settings, seeded_db: Path
) -> AsyncIterator[Harness]:
    """A client logged in to the fake (commands synced in setup_hook) over the seeded db."""
    configure_api_base(fake_discord_app.api_base)
    core = Commands.for_path(discord_settings, seeded_db, rules=RULES, clock=lambda: NOW)
    async with RotationClient(core, discord_settings) as client:
        await client.login(fake_discord_app.token)
        yield Harness(client, fake_discord_app)

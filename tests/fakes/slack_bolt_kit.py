"""The real bolt app served over HTTP on 127.0.0.1, backed by the fake Slack Web API.

Requests are built the way Slack sends them: form-encoded bodies (`payload=<json>` for
interactions) signed with `X-Slack-Signature` (v0, HMAC-SHA256 of `v0:<ts>:<body>`) and
`X-Slack-Request-Timestamp`. Answers arrive at the fake's response_url, charts and
`chat.update`s at its Web API.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.core import Commands
from bot.chat.replays import SharedReplays
from bot.chat.slack.answers import SlackAnswer
from bot.chat.slack.app import build_slack_app, start_http
from bot.config import Settings, load_settings
from signals.models import PriceBar
from signals.rules import parse_rule
from storage.db import open_db
from storage.prices import upsert_bars
from tests.fakes.slack_api import CHANNEL_ID, FakeSlack

SECRET = "fake-signing-secret-0123456789abcdef"
PREFIX = "rot-"
ADMIN = "UADMIN01"
TRADER = "UTRADER1"
NOW = datetime(2026, 3, 2, 21, 0, tzinfo=UTC)
RULES = [
    parse_rule({"type": "new_high", "id": "aaa-ath", "symbol": "AAA", "min_history": 2}),
    parse_rule({"type": "new_high", "id": "rut-ath", "symbol": "^RUT", "name": "@here <!channel>"}),
]
# adj_close per session; AAA +10 % YTD and BBB +5 % YTD on 2026-03-02.
PRICES = {
    "AAA": {"2025-12-30": 99.0, "2025-12-31": 100.0, "2026-01-02": 104.0, "2026-03-02": 110.0},
    "BBB": {"2025-12-30": 49.0, "2025-12-31": 50.0, "2026-01-02": 51.0, "2026-03-02": 52.5},
}


def slack_settings(fake: FakeSlack, **overrides: Any) -> Settings:
    """Settings for the app under test: HTTP mode, the `rot-` prefix, one admin."""
    values: dict[str, Any] = {
        "slack_bot_token": fake.token,
        "slack_signing_secret": SECRET,
        "slack_api_url": fake.api_url,
        "slack_command_prefix": PREFIX,
        "slack_admin_ids": (ADMIN,),
        "slack_mode": "http",
        **overrides,
    }
    return load_settings(None, **values)


def seed_prices(path: Path) -> None:
    """The hand-made bars of AAA and BBB in a real SQLite file."""
    db = open_db(path)
    upsert_bars(
        db,
        [
            PriceBar(symbol, date.fromisoformat(day), close=value, adj_close=value)
            for symbol, values in PRICES.items()
            for day, value in values.items()
        ],
    )
    db.close()


def signature(body: str, timestamp: int, secret: str = SECRET) -> str:
    """Slack's v0 request signature."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Posted:
    """What the bolt app answered over HTTP, and when (time.monotonic)."""

    status: int
    body: str
    at: float


class SlackBot:
    """The running app: post signed requests, wait for the answers at the fake."""

    def __init__(self, url: str, fake: FakeSlack, core: Commands, settings: Settings) -> None:
        self.url, self.fake, self.core, self.settings = url, fake, core, settings
        self.session = aiohttp.ClientSession()
        self._responses = 0

    async def post(
        self, body: str, *, timestamp: int | None = None, secret: str = SECRET
    ) -> Posted:
        """POST a form body signed like Slack does (change `timestamp`/`secret` to forge)."""
        stamp = int(time.time()) if timestamp is None else timestamp
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(stamp),
            "X-Slack-Signature": signature(body, stamp, secret),
        }
        async with self.session.post(self.url, data=body.encode(), headers=headers) as answer:
            return Posted(answer.status, await answer.text(), time.monotonic())

    async def command(self, name: str, text: str = "", user: str = TRADER, **kw: Any) -> Posted:
        """A slash command such as `/rot-spread` with its text."""
        self._responses += 1
        form = {
            "token": "legacy-verification-token",
            "team_id": "T000",
            "team_domain": "desk",
            "channel_id": kw.pop("channel", CHANNEL_ID),
            "channel_name": "alerts",
            "user_id": user,
            "user_name": user.lower(),
            "command": name,
            "text": text,
            "api_app_id": "A0ROTATION",
            "is_enterprise_install": "false",
            "response_url": self.fake.response_url(self._responses),
            "trigger_id": f"{self._responses}.123.abc",
        }
        return await self.post(urlencode(form), **kw)

    async def press(self, action_id: str, value: str, user: str, message: dict[str, Any]) -> Posted:
        """A button press on a message the fake holds (`message`: its ts, channel, payload)."""
        self._responses += 1
        payload = block_actions(action_id, value, user, message)
        payload["response_url"] = self.fake.response_url(self._responses)
        return await self.post(urlencode({"payload": json.dumps(payload)}))

    async def answers(self, count: int, within: float = 10.0) -> list[dict[str, Any]]:
        """The first `count` response_url payloads, waiting for the background work."""
        deadline = time.monotonic() + within
        # The fake runs in its own thread: polling its records is the simple way to wait.
        while len(self.fake.responses) < count and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        assert len(self.fake.responses) >= count, f"only {len(self.fake.responses)} answer(s)"
        return [r.payload for r in self.fake.responses[:count]]

    async def settle(self, seconds: float = 0.3) -> None:
        """Give background listeners a moment (used only to assert that nothing else came)."""
        await asyncio.sleep(seconds)

    async def close(self) -> None:
        await self.session.close()


def block_actions(action_id: str, value: str, user: str, message: dict[str, Any]) -> dict:
    """A block_actions payload as Slack sends it for a button on a channel message."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T000"},
        "api_app_id": "A0ROTATION",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": message["channel"],
            "is_ephemeral": False,
        },
        "trigger_id": "9.123.abc",
        "team": {"id": "T000", "domain": "desk"},
        "channel": {"id": message["channel"], "name": "alerts"},
        "message": {"type": "message", "ts": message["ts"], **message["payload"]},
        "actions": [
            {
                "action_id": action_id,
                "block_id": "rot_alert_actions",
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def texts_of(answer: dict[str, Any] | SlackAnswer) -> list[str]:
    """Every string a Slack client would render from an answer (text and all block texts)."""
    if isinstance(answer, SlackAnswer):
        answer = {"text": answer.text, "blocks": answer.blocks}
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("text"), str):
                found.append(value["text"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(answer)
    return found


async def serve(
    fake: FakeSlack, core: Commands, settings: Settings, shared: SharedReplays | None = None
) -> AsyncIterator[SlackBot]:
    """Run `build_slack_app` behind `start_http` on 127.0.0.1 (a free port) until done.

    `shared`: a replay memory in the database, as every replica of `rotation-bot run` has.
    """
    client = AsyncWebClient(token=fake.token, base_url=fake.api_url)
    app = build_slack_app(settings, core, client)
    secret = settings.slack_signing_secret
    signing_secret = secret.get_secret_value() if secret is not None else ""
    runner, port = await start_http(
        app, "127.0.0.1", 0, signing_secret=signing_secret, shared=shared
    )
    bot = SlackBot(f"http://127.0.0.1:{port}/slack/events", fake, core, settings)
    try:
        yield bot
    finally:
        await bot.close()
        await runner.cleanup()


async def seeded_bot(fake: FakeSlack, tmp_path: Path) -> AsyncIterator[SlackBot]:
    """The app with prefix `rot-`, admin UADMIN01, AAA/BBB prices and two rules."""
    settings = slack_settings(fake)
    seed_prices(tmp_path / "rotation.db")
    core = Commands.for_path(settings, tmp_path / "rotation.db", rules=RULES, clock=lambda: NOW)
    async for bot in serve(fake, core, settings):
        yield bot

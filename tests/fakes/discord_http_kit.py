"""Discord's side of HTTP interactions: signed POSTs to the bot's real endpoint on 127.0.0.1.

`DiscordFront` signs interaction payloads with a fresh Ed25519 key (PyNaCl), POSTs them to the
endpoint served by `InteractionsEndpoint` on a real aiohttp server, and hands the HTTP answer
to `FakeDiscordApp` the way Discord takes it, so follow-ups and edits find it there.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from nacl.signing import SigningKey

from bot.chat.discord.http_mode import INTERACTIONS_PATH, InteractionsEndpoint
from bot.service.web import mount
from tests.fakes.discord_kit import ALICE, Harness, User, _command_data, interaction_payload


@dataclass
class Answer:
    """What the endpoint answered and how long it took."""

    status: int
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


def sign(key: SigningKey, body: bytes, stamp: str) -> dict[str, str]:
    """Discord's headers for `body`: the signature over timestamp + body."""
    signature = key.sign(stamp.encode() + body).signature.hex()
    return {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": stamp}


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """A blocking POST (run it in a thread); any status is returned, not raised."""
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    for name, value in headers.items():
        request.add_header(name, value)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Answer(int(response.status), response.read(), time.monotonic() - started)
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read(), time.monotonic() - started)


class DiscordFront:
    """Plays Discord: sends signed interactions to the endpoint, records the answers."""

    def __init__(self, harness: Harness, endpoint: InteractionsEndpoint, url: str) -> None:
        self.harness, self.endpoint, self.url = harness, endpoint, url
        self.fake = harness.fake
        self.key = SigningKey.generate()
        self.answers: dict[str, Answer] = {}

    async def command(self, name: str, user: User = ALICE, **options: str) -> str:
        """`/name option=value ...` over HTTP; returns the interaction token."""
        return await self.send(2, _command_data(name, options), user)

    async def autocomplete(self, name: str, focused: str, **options: str) -> str:
        """Ask for choices while the user types `options[focused]`."""
        data = _command_data(name, options)
        for option in data["options"]:
            option["focused"] = option["name"] == focused
        return await self.send(4, data, ALICE)

    async def press(self, custom_id: str, message: dict[str, Any], user: User = ALICE) -> str:
        """Press a button on a message (its JSON as Discord sends it)."""
        data = {"custom_id": custom_id, "component_type": 2}
        return await self.send(3, data, user, message=message)

    async def send(
        self, kind: int, data: dict[str, Any], user: User, message: dict[str, Any] | None = None
    ) -> str:
        channel = message["channel_id"] if message else None
        interaction_id, token = self.fake.open_interaction(
            kind, over_http=True, message_id=message["id"] if message else None,
            **({"channel_id": channel} if channel else {}),
        )  # fmt: skip
        payload = interaction_payload(interaction_id, token, kind, data, user)
        if message is not None:
            payload["message"] = message
        answer = await asyncio.to_thread(self._deliver, token, json.dumps(payload).encode())
        self.answers[token] = answer
        from tests.fakes.discord_kit import settle

        await settle()
        return token

    def _deliver(self, token: str, body: bytes) -> Answer:
        answer = post(self.url, body, sign(self.key, body, str(int(time.time()))))
        if answer.status == 200:
            assert self.fake.answer_over_http(token, answer.json()) == 200
        return answer

    async def raw(self, body: bytes, headers: dict[str, str]) -> Answer:
        """POST anything (hostile requests)."""
        return await asyncio.to_thread(post, self.url, body, headers)


@pytest.fixture
async def front(bot: Harness) -> AsyncIterator[DiscordFront]:
    """The real endpoint on 127.0.0.1 over the logged-in client, and Discord in front of it."""
    key = SigningKey.generate()
    endpoint = InteractionsEndpoint(bot.client, key.verify_key.encode().hex())
    mounted = await mount("127.0.0.1", 0, {("POST", INTERACTIONS_PATH): endpoint.handle})
    url = f"http://127.0.0.1:{mounted.port}{INTERACTIONS_PATH}"
    discord = DiscordFront(bot, endpoint, url)
    discord.key = key
    yield discord
    await mounted.cleanup()

"""The door of Discord's HTTP interactions endpoint: every request is checked first.

Discord signs each request with the application's Ed25519 key: `X-Signature-Ed25519` (hex)
over `X-Signature-Timestamp` + the raw body, checked here with PyNaCl against
`DISCORD_PUBLIC_KEY`. Discord sends its own unsigned probes when the endpoint URL is saved and
requires them refused with 401. A request that fails a check is answered 400 (malformed) or
401 (unsigned, wrongly signed, stale) with one log line and never its body, like Slack's door.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from aiohttp import web
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from bot.service.web import Rejected, metrics_port_problems, refuse
from bot.service.web_door import TooNested, load_json
from bot.service.web_door import read_body as read_within_deadline

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

WINDOW_SECONDS = 300  # Discord names no window; Slack's five minutes bounds a replay the same way
MAX_BODY = 256 * 1024  # an interaction with its resolved users and message is a few KiB
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^[0-9a-fA-F]{128}$")
PUBLIC_KEY = re.compile(r"^[0-9a-fA-F]{64}$")


class SeenInteractions:
    """Interaction ids answered in the window: a signed request replayed is refused, not run.

    A replay would run the command again and hand its answer (perhaps a private one) to
    whoever replayed it. Bounded: past `limit` ids the oldest is forgotten.
    """

    def __init__(self, window: float = WINDOW_SECONDS, limit: int = 10_000) -> None:
        self.window, self.limit = window, limit
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def check_new(self, interaction_id: str, now: float) -> None:
        """Remember `interaction_id`; Rejected(401) if it was seen in the window."""
        while self._expiry and next(iter(self._expiry.values())) < now:
            self._expiry.popitem(last=False)
        if interaction_id in self._expiry:
            raise Rejected(401, "interaction replayed within five minutes")
        if len(self._expiry) >= self.limit:
            self._expiry.popitem(last=False)
        self._expiry[interaction_id] = now + self.window


def verify_key(public_key: str) -> VerifyKey:
    """The application's public key (64 hex characters, from the Developer Portal)."""
    if not PUBLIC_KEY.match(public_key):
        raise ValueError("DISCORD_PUBLIC_KEY must be 64 hexadecimal characters")
    return VerifyKey(bytes.fromhex(public_key))


async def read_body(request: web.Request) -> bytes:
    """The raw body within the port's deadline, refusing one that is too large."""
    try:
        return await read_within_deadline(request, MAX_BODY)
    except web.HTTPRequestEntityTooLarge:
        raise Rejected(413, "body too large") from None
    except web.HTTPException as refused:  # 408 too slow, 400 cut off
        raise Rejected(refused.status, refused.text or refused.reason) from None


def check_signed(request: web.Request, body: bytes, key: VerifyKey, now: float) -> None:
    """Raise Rejected unless the request is signed with `key` and fresh."""
    stamp = request.headers.get("X-Signature-Timestamp")
    signature = request.headers.get("X-Signature-Ed25519")
    if stamp is None or signature is None:
        raise Rejected(401, "not signed")
    if not _TIMESTAMP.match(stamp):
        raise Rejected(400, "X-Signature-Timestamp is not a number")
    if not _SIGNATURE.match(signature):
        raise Rejected(401, "wrong signature")
    try:
        key.verify(stamp.encode() + body, bytes.fromhex(signature))
    except BadSignatureError:
        raise Rejected(401, "wrong signature") from None
    if abs(now - int(stamp)) > WINDOW_SECONDS:  # checked once signed: the stamp is Discord's
        raise Rejected(401, "timestamp outside the five-minute window")


def interaction_of(body: bytes) -> dict[str, Any]:
    """The interaction payload: a JSON object with a numeric `type`; Rejected(400) if not."""
    try:
        value = load_json(body.decode("utf-8"))
    except TooNested as error:
        raise Rejected(400, str(error)) from None
    except (UnicodeDecodeError, ValueError):
        raise Rejected(400, "body is not JSON (truncated?)") from None
    if not isinstance(value, dict):
        raise Rejected(400, "body is not a JSON object")
    if not isinstance(value.get("type"), int) or isinstance(value.get("type"), bool):
        raise Rejected(400, "body has no interaction type")
    return value


def reject(request: web.Request, rejected: Rejected) -> web.Response:
    """One log line, never the body: a flood of bad requests must not flood the log."""
    return refuse(request, rejected, "Discord interaction", log)


def check_discord_settings(settings: Settings) -> list[str]:
    """One `config error:` line per Discord command setting missing for the chosen mode."""
    if settings.discord_mode != "http":
        return []
    problems = metrics_port_problems(settings, settings.discord_http_port, "DISCORD_HTTP_PORT")
    if settings.discord_public_key is None:
        problems.insert(
            0,
            "config error: DISCORD_PUBLIC_KEY is required in HTTP mode (DISCORD_MODE=http): "
            "the application's public key from the Developer Portal",
        )
    if settings.discord_bot_token is None:
        problems.insert(
            0,
            "config error: DISCORD_BOT_TOKEN is required in HTTP mode (DISCORD_MODE=http): "
            "commands answer and follow up with the bot's token",
        )
    return problems

"""The door of Slack HTTP mode: every request is checked before bolt sees it.

Bolt parses the body before it verifies the signature, so a non-numeric timestamp, a binary
body or an interactivity `payload` that is not a JSON object used to end in a 500 and a
logged traceback. This aiohttp middleware answers such requests itself, with 400 (malformed)
or 401 (unsigned, wrongly signed, older than five minutes), and logs one line without the
body. A correctly signed request seen before within the five-minute window (a replay) is
answered 200 without running anything: the signatures of the window are remembered, each
until its request would be too old anyway, in bounded memory.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from aiohttp import web

from bot.chat.replays import SharedReplays
from bot.service.web import Rejected, refuse
from bot.service.web_door import TooNested, load_json, read_body

log = logging.getLogger(__name__)

WINDOW_SECONDS = 300  # Slack's own rule: reject requests older than five minutes
MAX_REMEMBERED = 10_000  # about 33 requests a second for five minutes
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^v0=[0-9a-f]{64}$")
MAX_BODY = 1024 * 1024  # aiohttp's own default; Slack's largest payloads are a few KiB

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ReplayMemory:
    """Signatures seen in the window; each is forgotten once its timestamp is out of it.

    Bounded: past `limit` entries the oldest is dropped (a flood of that size within five
    minutes is not a desk's traffic).
    """

    def __init__(self, window: float = WINDOW_SECONDS, limit: int = MAX_REMEMBERED) -> None:
        self.window, self.limit = window, limit
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._expiry)

    def seen_before(self, signature: str, timestamp: int, now: float) -> bool:
        """True if `signature` was seen in the window; otherwise remember it and say False."""
        self._forget_expired(now)
        if signature in self._expiry:
            return True
        if len(self._expiry) >= self.limit:
            self._expiry.popitem(last=False)
        self._expiry[signature] = timestamp + self.window
        return False

    def _forget_expired(self, now: float) -> None:
        # Entries arrive in about timestamp order; the bound covers any that are not.
        while self._expiry and next(iter(self._expiry.values())) < now:
            self._expiry.popitem(last=False)


def slack_request_guard(
    signing_secret: str,
    path: str,
    *,
    now: Callable[[], float] = time.time,
    memory: ReplayMemory | None = None,
    shared: SharedReplays | None = None,
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """The middleware that checks POSTs to `path` before they reach the bolt handler.

    `shared`: the replay memory every replica shares (None: this process's `memory` only).
    """
    seen = memory if memory is not None else ReplayMemory()

    async def replayed(signature: str, timestamp: int) -> bool:
        if seen.seen_before(signature, timestamp, now()):
            return True
        until = timestamp + WINDOW_SECONDS
        return shared is not None and await shared.seen_before(f"slack:{signature}", until, now())

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "POST" or request.path != path:
            return await handler(request)
        try:
            body = await read_body(request, MAX_BODY)
            if "X-Slack-Signature" not in request.headers and is_ssl_check(body):
                return await _shape_checked(request, handler)  # Slack's unsigned probe
            signature, timestamp = check_signed(request, body, signing_secret, now())
            check_body(request.content_type, body)
            if await replayed(signature, timestamp):
                log.warning("Slack request replayed within five minutes: answered, not run again")
                return web.Response(status=200, text="")
        except Rejected as rejected:
            return _reject(request, rejected)
        except web.HTTPRequestEntityTooLarge:
            return _reject(request, Rejected(413, "body too large"))
        except web.HTTPException as refused:  # 408 too slow, 400 cut off
            return _reject(request, Rejected(refused.status, refused.text or refused.reason))
        except ConnectionResetError:  # the client hung up before its body was complete
            return _reject(request, Rejected(400, "body cut off (connection closed)"))
        return await _shape_checked(request, handler)

    return guard


async def _shape_checked(request: web.Request, handler: Handler) -> web.StreamResponse:
    # Bolt reads fields (user, team, channel) out of the body while it builds its request,
    # before any listener runs, and crashes on a JSON object of the wrong shape. Listener
    # errors never get here: bolt handles those itself.
    try:
        return await handler(request)
    except (TypeError, AttributeError, KeyError, ValueError, IndexError) as error:
        reason = f"body of an unexpected shape ({type(error).__name__}: {error})"
        return _reject(request, Rejected(400, reason[:200]))


def is_ssl_check(body: bytes) -> bool:
    """Slack's certificate check (`ssl_check=1`), which it may send unsigned."""
    if len(body) > 1024 or b"ssl_check=1" not in body:
        return False
    try:
        check_body("application/x-www-form-urlencoded", body)
    except Rejected:
        return False
    return ("ssl_check", "1") in parse_qsl(body.decode("utf-8"))


def check_signed(request: web.Request, body: bytes, secret: str, now: float) -> tuple[str, int]:
    """The request's signature and timestamp, if it is signed with `secret` and fresh."""
    stamp = request.headers.get("X-Slack-Request-Timestamp")
    signature = request.headers.get("X-Slack-Signature")
    if stamp is None or signature is None:
        raise Rejected(401, "not signed")
    if not _TIMESTAMP.match(stamp):
        raise Rejected(400, "X-Slack-Request-Timestamp is not a number")
    if abs(now - int(stamp)) > WINDOW_SECONDS:
        raise Rejected(401, "timestamp outside the five-minute window")
    base = b"v0:" + stamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not _SIGNATURE.match(signature) or not hmac.compare_digest(signature, expected):
        raise Rejected(401, "wrong signature")
    return signature, int(stamp)


def check_body(content_type: str, body: bytes) -> None:
    """Raise Rejected(400) unless `body` is what bolt can parse: UTF-8, a form or JSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(400, "body is not UTF-8 text") from None
    if content_type == "application/json":
        _json_object(text, "body")
        return
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise Rejected(400, "body is not a form (truncated?)") from None
    payload = dict(pairs).get("payload")
    if payload is not None:
        _json_object(payload, "interactivity payload")


def _json_object(text: str, what: str) -> None:
    try:
        value = load_json(text)
    except TooNested as error:
        raise Rejected(400, f"{what}: {error}") from None
    except ValueError:
        raise Rejected(400, f"{what} is not JSON (truncated?)") from None
    if not isinstance(value, dict):
        raise Rejected(400, f"{what} is not a JSON object")


def _reject(request: web.Request, rejected: Rejected) -> web.Response:
    return refuse(request, rejected, "Slack request", log)

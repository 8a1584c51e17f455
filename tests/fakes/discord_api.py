"""A local stand-in for Discord's REST API, spoken to by the real discord.py client.

Implements what posting alerts needs: GET /users/@me (token check), POST and GET
/channels/{id}/messages, POST /webhooks/{id}/{token}. History follows Discord's documented
paging: `limit` 1-100 (default 50), one of `before`/`after`/`around`, `after=X` returns the
oldest messages after X, and every page is sorted newest first; snowflakes grow with time.
`post_chatter` fills a channel with other people's messages (a busy channel). It enforces
the documented message and embed limits (400 with nested `errors`, code 50035), answers 429
like Discord (JSON `retry_after`, `X-RateLimit-*` headers, a `Via` header so the client
believes it; every answer carries them), and honours
`nonce` + `enforce_nonce`: a repeated nonce within `nonce_window` seconds returns the existing
message instead of creating a new one. Tests script failures with `fail_next`, and
`kill_pid` makes the server kill a client process after recording its message but before
answering (the crash-between-acceptance-and-record case); with `kill_at_post` = N only once
the bot's N-th post has been accepted.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.httpfake import FakeServer, Request, Response

DISCORD_EPOCH_MS = 1420070400000
BOT_ID = "900000000000000001"
WEBHOOK_CHANNEL = "800000000000000001"  # the channel every fake webhook posts into
LIMITS = {
    "title": 256,
    "description": 4096,
    "footer": 2048,
    "author": 256,
    "field_name": 256,
    "field_value": 1024,
    "fields": 25,
    "embeds": 10,
    "content": 2000,
    "total": 6000,
}


@dataclass
class Posted:
    """One message the fake accepted."""

    id: str
    channel_id: str
    payload: dict[str, Any]
    files: dict[str, bytes]
    nonce: str | None
    created: float
    via: str  # "bot", "webhook:<id>" or "user" (chatter)
    author: dict[str, Any] = field(default_factory=lambda: _user())

    @property
    def embed(self) -> dict[str, Any]:
        return self.payload["embeds"][0]


@dataclass
class FakeDiscord(FakeServer):
    """Fake Discord REST API; `api_base` is what DISCORD_API_BASE should be set to."""

    token: str = "fake-discord-bot-token"
    nonce_window: float = 300.0
    messages: list[Posted] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    edits: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # PATCH bodies
    kill_pid: int | None = None
    kill_at_post: int = 0  # with kill_pid: kill on accepting the bot's post number N (1-based)
    kill_signal: int = signal.SIGKILL  # SIGSTOP: the client hangs instead (resumed by the test)
    # Called with the client's port once a bot post is stored; False: answer nothing (killed).
    on_accept: Callable[[int], bool] | None = None
    hide_history: bool = False  # history lags behind (eventual consistency): list nothing
    # Rate limits as Discord applies them: `channel_limit` = (posts, seconds) per channel
    # bucket, counted over a sliding window and reflected in the X-RateLimit-* headers (None:
    # the fixed, never-exhausted headers); `global_429s` answers the next bot posts with a
    # global 429 of that many seconds (`X-RateLimit-Global: true`), counted in `global_hits`.
    channel_limit: tuple[int, float] | None = None
    global_429s: deque[float] = field(default_factory=deque)
    global_hits: list[float] = field(default_factory=list)
    _windows: dict[str, deque[float]] = field(default_factory=dict)
    _nonces: dict[tuple[str, str | None], Posted] = field(default_factory=dict)
    _script: deque[Response] = field(default_factory=deque)
    _counter: int = 0

    def __post_init__(self) -> None:
        FakeServer.__init__(self)

    @property
    def api_base(self) -> str:
        return f"{self.url}/api/v10"

    def fail_next(self, status: int, times: int = 1, *, retry_after: float = 1.0) -> None:
        """The next `times` message posts get this status instead of success."""
        for _ in range(times):
            self._script.append(_error_response(status, retry_after))

    def handle(self, request: Request) -> Response | None:
        with self.lock:
            self.requests.append((request.method, request.path))
            return self._route(request)

    def _route(self, request: Request) -> Response | None:
        parts = request.path.removeprefix("/api/v10").strip("/").split("/")
        if parts[:1] == ["webhooks"] and request.method == "POST" and len(parts) == 3:
            return self._post(request, channel_id=WEBHOOK_CHANNEL, via=f"webhook:{parts[1]}")
        if not self._authorised(request):
            return Response(401, {"message": "401: Unauthorized", "code": 0}, _headers())
        if parts == ["users", "@me"]:
            return Response(200, _user(), _headers())
        if parts[:1] == ["channels"] and parts[2:] == ["messages"]:
            if request.method == "POST":
                return self._post(request, channel_id=parts[1], via="bot")
            return self._history(parts[1], request.query)
        if parts[:1] == ["channels"] and parts[2:3] == ["messages"] and len(parts) == 4:
            return self._one_message(request, parts[1], parts[3])
        return Response(404, {"message": "404: Not Found", "code": 0}, _headers())

    def _one_message(self, request: Request, channel_id: str, message_id: str) -> Response:
        """GET or PATCH one message (an edit replaces only the fields it sends, as on Discord)."""
        found = [m for m in self.messages if m.id == message_id and m.channel_id == channel_id]
        if not found:
            return Response(404, {"message": "Unknown Message", "code": 10008}, _headers())
        if request.method == "PATCH":
            if self._script:
                return self._script.popleft()
            changes, _ = _read_payload(request)
            found[0].payload = {**found[0].payload, **changes}
            self.edits.append((channel_id, message_id, changes))
        return Response(200, self._message(found[0], with_nonce=False), _headers())

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {self.token}"

    def _post(self, request: Request, *, channel_id: str, via: str) -> Response | None:
        payload, files = _read_payload(request)
        problems = check_limits(payload, files)
        if problems:
            return Response(400, _form_error(problems), _headers())
        nonce = payload.get("nonce")
        existing = self._same_nonce(channel_id, nonce) if payload.get("enforce_nonce") else None
        if existing is not None:
            return Response(200, self._message(existing), _headers())
        if self._script:
            return self._script.popleft()
        limited = self._rate_limited(channel_id) if via == "bot" else None
        if limited is not None:
            return limited
        posted = self._record(channel_id, payload, files, nonce, via)
        if via == "bot" and self.on_accept is not None and not self.on_accept(request.peer_port):
            return None
        if self._kill_now():
            os.kill(self.kill_pid, self.kill_signal)  # accepted and stored, the client never hears
            self.kill_pid = None
            return None
        return Response(200, self._message(posted), self._bucket_headers(channel_id))

    def _rate_limited(self, channel_id: str) -> Response | None:
        """A global 429 when one is scripted, a bucket 429 when the channel's window is full."""
        if self.global_429s:
            seconds = self.global_429s.popleft()
            self.global_hits.append(time.monotonic())
            return _global_limit_response(seconds)
        if self.channel_limit is None:
            return None
        window = self._window(channel_id)
        posts, seconds = self.channel_limit
        if len(window) < posts:
            window.append(time.monotonic())
            return None
        reset_after = max(window[0] + seconds - time.monotonic(), 0.001)
        return _error_response(429, reset_after)

    def _window(self, channel_id: str) -> deque[float]:
        window = self._windows.setdefault(channel_id, deque())
        seconds = self.channel_limit[1] if self.channel_limit else 0.0
        while window and window[0] + seconds <= time.monotonic():
            window.popleft()
        return window

    def _bucket_headers(self, channel_id: str) -> dict[str, str]:
        if self.channel_limit is None:
            return _headers()
        window, (posts, seconds) = self._window(channel_id), self.channel_limit
        reset_after = max(window[0] + seconds - time.monotonic(), 0.001) if window else seconds
        headers = _headers(remaining=posts - len(window), reset_after=reset_after)
        headers["X-RateLimit-Limit"] = str(posts)
        return headers

    def arrivals(self, channel_id: str) -> list[str]:
        """The alert keys the bot posted in `channel_id`, in the order they arrived."""
        with self.lock:
            return [
                m.embed["footer"]["text"].split("alert ", 1)[1]
                for m in self.messages
                if m.channel_id == channel_id and m.via == "bot"
            ]

    def _kill_now(self) -> bool:
        if self.kill_pid is None:
            return False
        return not self.kill_at_post or self.kill_at_post <= sum(
            1 for m in self.messages if m.via == "bot"
        )

    def _same_nonce(self, channel_id: str, nonce: str | None) -> Posted | None:
        # Indexed, not a scan of every message: a 5,000-post drain stays linear.
        posted = self._nonces.get((channel_id, nonce))
        fresh = posted is not None and time.monotonic() - posted.created < self.nonce_window
        return posted if fresh else None

    def _record(
        self,
        channel_id: str,
        payload: dict[str, Any],
        files: dict[str, bytes],
        nonce: str | None,
        via: str,
    ) -> Posted:
        self._counter += 1
        snowflake = ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) + self._counter
        posted = Posted(str(snowflake), channel_id, payload, files, nonce, time.monotonic(), via)
        self.messages.append(posted)
        self._nonces[(channel_id, nonce)] = posted  # the newest: if it is stale, all are
        return posted

    def _history(self, channel_id: str, query: dict[str, str]) -> Response:
        """GET /channels/{id}/messages as Discord documents it.

        `limit` 1-100 (default 50); at most one of `before`, `after`, `around`. `after=X`
        gives the `limit` messages immediately after X (the oldest ones), `before=X` the
        newest before X, `around=X` those nearest X; the array is newest first in every case.
        """
        limit, problems = _history_limit(query.get("limit"))
        anchors = [name for name in ("before", "after", "around") if name in query]
        if len(anchors) > 1:
            problems["_errors"] = [
                {"code": "INVALID_QUERY", "message": "before, after and around are exclusive"}
            ]
        if problems:
            return Response(400, _form_error(problems), _headers())
        if self.hide_history:
            return Response(200, [], _headers())
        oldest_first = sorted(
            (m for m in self.messages if m.channel_id == channel_id), key=lambda m: int(m.id)
        )
        page = _page(oldest_first, anchors[0] if anchors else None, query, limit)
        newest_first = sorted(page, key=lambda m: int(m.id), reverse=True)
        return Response(200, [self._message(m, with_nonce=False) for m in newest_first], _headers())

    def post_chatter(self, channel_id: str, count: int) -> None:
        """`count` messages from people (not the bot) in the channel: a busy desk channel."""
        with self.lock:
            for number in range(count):
                posted = self._record(
                    channel_id, {"content": f"chatter {number}"}, {}, None, "user"
                )
                posted.author = _person(number)

    def _message(self, posted: Posted, *, with_nonce: bool = True) -> dict[str, Any]:
        # Like Discord, the nonce is echoed only in the create response, never in history.
        data = {
            "id": posted.id,
            "channel_id": posted.channel_id,
            "type": 0,
            "content": posted.payload.get("content") or "",
            "embeds": posted.payload.get("embeds", []),
            "attachments": [
                _attachment(name, data, posted.id) for name, data in posted.files.items()
            ],
            "author": posted.author,
            "timestamp": "2026-11-20T21:00:00.000000+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "flags": posted.payload.get("flags") or 0,
            "components": posted.payload.get("components") or [],
        }
        if posted.via.startswith("webhook:"):
            data["webhook_id"] = posted.via.removeprefix("webhook:")
        if with_nonce and posted.nonce is not None:
            data["nonce"] = posted.nonce
        return data


def _read_payload(request: Request) -> tuple[dict[str, Any], dict[str, bytes]]:
    if request.content_type == "multipart/form-data":
        parts = request.multipart()
        payload = json.loads(parts.pop("payload_json")[1])
        files = {filename or name: data for name, (filename, data) in parts.items()}
        return payload, files
    return request.json(), {}


def check_limits(payload: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
    """Discord's message limits as a nested `errors` object (empty when the message is fine)."""
    errors: dict[str, Any] = {}
    if len(payload.get("content") or "") > LIMITS["content"]:
        errors["content"] = _max_length(LIMITS["content"])
    embeds = payload.get("embeds") or []
    if len(embeds) > LIMITS["embeds"]:
        errors["embeds"] = _max_length(LIMITS["embeds"])
    total = 0
    for index, embed in enumerate(embeds):
        embed_errors, size = _check_embed(embed, files)
        total += size
        if embed_errors:
            errors.setdefault("embeds", {})[str(index)] = embed_errors
    if total > LIMITS["total"]:
        errors.setdefault("embeds", {})["_errors"] = [
            {
                "code": "MAX_EMBED_SIZE_EXCEEDED",
                "message": "Embed size exceeds maximum size of 6000",
            }
        ]
    if len(str(payload.get("nonce") or "")) > 25:
        errors["nonce"] = _max_length(25)
    return errors


def _check_embed(embed: dict[str, Any], files: dict[str, bytes]) -> tuple[dict[str, Any], int]:
    errors: dict[str, Any] = {}
    texts = {
        "title": embed.get("title", ""),
        "description": embed.get("description", ""),
        "footer": embed.get("footer", {}).get("text", ""),
        "author": embed.get("author", {}).get("name", ""),
    }
    for key, text in texts.items():
        if len(text) > LIMITS[key]:
            errors[key] = _max_length(LIMITS[key])
    fields = embed.get("fields", [])
    if len(fields) > LIMITS["fields"]:
        errors["fields"] = _max_length(LIMITS["fields"])
    size = sum(len(t) for t in texts.values())
    for index, item in enumerate(fields):
        size += len(item["name"]) + len(item["value"])
        for key, limit in (("name", 256), ("value", 1024)):
            if len(item[key]) > limit or not item[key]:
                errors.setdefault("fields", {}).setdefault(str(index), {})[key] = _max_length(limit)
    image = embed.get("image", {}).get("url", "")
    if image.startswith("attachment://") and image.removeprefix("attachment://") not in files:
        errors["image"] = {
            "_errors": [{"code": "ATTACHMENT_NOT_FOUND", "message": "Unknown attachment"}]
        }
    return errors, size


def _max_length(limit: int) -> dict[str, Any]:
    message = f"Must be {limit} or fewer in length."
    return {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": message}]}


def _form_error(errors: dict[str, Any]) -> dict[str, Any]:
    return {"code": 50035, "errors": errors, "message": "Invalid Form Body"}


def _history_limit(raw: str | None) -> tuple[int, dict[str, Any]]:
    """Discord's `limit`: 1-100, 50 when absent; out of range is a 50035 form error."""
    try:
        limit = 50 if raw is None else int(raw)
    except ValueError:
        return 0, {"limit": {"_errors": [{"code": "NUMBER_TYPE_COERCE", "message": "Not int"}]}}
    if not 1 <= limit <= 100:
        message = "Int should be between 1 and 100."
        return 0, {"limit": {"_errors": [{"code": "NUMBER_TYPE_MAX", "message": message}]}}
    return limit, {}


def _page(
    oldest_first: list[Posted], anchor: str | None, query: dict[str, str], limit: int
) -> list[Posted]:
    """The messages one history request selects (any order; the caller sorts them)."""
    if anchor is None:
        return oldest_first[-limit:]
    snowflake = int(query[anchor])
    if anchor == "after":
        return [m for m in oldest_first if int(m.id) > snowflake][:limit]
    if anchor == "before":
        return [m for m in oldest_first if int(m.id) < snowflake][-limit:]
    nearest = sorted(oldest_first, key=lambda m: abs(int(m.id) - snowflake))
    return nearest[:limit]


def _error_response(status: int, retry_after: float) -> Response:
    if status == 429:
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": False,
        }
        headers = _headers(remaining=0, reset_after=retry_after)
        headers.update({"Retry-After": str(int(retry_after) or 1), "X-RateLimit-Scope": "user"})
        return Response(429, body, headers)
    return Response(status, {"message": f"{status}: Server Error", "code": 0}, _headers())


def _global_limit_response(retry_after: float) -> Response:
    body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": True}
    headers = _headers(remaining=0, reset_after=retry_after)
    headers.update(
        {
            "Retry-After": f"{retry_after:g}",
            "X-RateLimit-Global": "true",
            "X-RateLimit-Scope": "global",
        }
    )
    return Response(429, body, headers)


def _headers(remaining: int = 4, reset_after: float = 1.0) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        "X-RateLimit-Bucket": "fake-bucket",
        "Via": "1.1 google",
    }


def _user() -> dict[str, Any]:
    return {
        "id": BOT_ID,
        "username": "rotation-bot",
        "discriminator": "0",
        "global_name": None,
        "avatar": None,
        "bot": True,
    }


def _person(number: int) -> dict[str, Any]:
    return {
        "id": str(700000000000000000 + number),
        "username": f"trader{number}",
        "discriminator": "0",
        "global_name": None,
        "avatar": None,
    }


def _attachment(name: str, data: bytes, message_id: str) -> dict[str, Any]:
    return {
        "id": message_id,
        "filename": name,
        "size": len(data),
        "url": f"https://cdn.example/{name}",
        "proxy_url": f"https://cdn.example/{name}",
    }

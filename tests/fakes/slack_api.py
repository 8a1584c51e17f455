"""A local stand-in for Slack's Web API and incoming webhooks, driven by the real slack_sdk.

Implements chat.postMessage (Block Kit limits checked: 50 blocks, header 150, section text
3000, 10 fields of 2000; `{"ok": false, "error": "invalid_blocks"}` otherwise; metadata
stored and returned by conversations.history only with include_all_metadata), the three-step
file upload (files.getUploadURLExternal, the upload URL, files.completeUploadExternal) and
incoming webhooks (`ok` / `invalid_blocks` as text). 429s carry `Retry-After`. `kill_pid`
kills a client process after its message is stored but before the answer (`kill_at_post`:
the N-th post; `kill_at`: or later, as the chart upload starts or once it is shared).
conversations.history follows Slack's documented paging (`oldest`/`latest`/`inclusive`,
`limit`, newest first, `has_more` and `response_metadata.next_cursor`; `max_page` makes
pages shorter than asked, as Slack may); conversations.replies lists a thread with the
charts shared into it; `post_chatter` fills a channel with people's messages.

For the bolt app (issue 5): auth.test, chat.update (blocks checked, metadata kept),
conversations.open (a DM channel `D…` per user) and slash-command / interaction
`response_url`s (`response_url(n)`), recorded with their arrival time in `responses`.
Uploads into a channel listed in `not_member_of` fail with `not_in_channel`.
`apps.connections.open` (with the app-level token) hands out `socket_url` for Socket Mode.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.httpfake import FakeServer, Request, Response

CHANNEL_ID = "C0ALERTS1"
# Slack posts into the conversation an id names; a name (`#alerts`) resolves to CHANNEL_ID here.
_CONVERSATION_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
BOT_USER_ID = "U0ROTBOT"


@dataclass
class SlackResponse:
    """One message posted to a response_url."""

    path: str
    payload: dict[str, Any]
    received_at: float  # time.monotonic()


@dataclass
class SlackPost:
    """One message the fake accepted."""

    ts: str
    channel: str
    payload: dict[str, Any]
    via: str
    files: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FakeSlack(FakeServer):
    """Fake Slack; `api_url` is what SLACK_API_URL should be set to (trailing slash kept)."""

    token: str = "xoxb-fake-slack-token"
    app_token: str = "xapp-fake-app-token"
    socket_url: str | None = None
    messages: list[SlackPost] = field(default_factory=list)
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    kill_pid: int | None = None
    kill_at: str = "post"  # where kill_pid dies: "post", "upload" (chart not begun), "shared"
    kill_at_post: int = 0  # ... and only once the bot's N-th post is accepted (0: the next)
    kill_signal: int = signal.SIGKILL  # SIGSTOP: the client hangs instead (resumed by the test)
    # Called with the client's port once a bot post is stored; False: answer nothing (killed).
    on_accept: Callable[[int], bool] | None = None
    _peer: int = 0
    fail_replies: int = 0  # the next N conversations.replies answer internal_error
    max_page: int = 999  # Slack may return fewer messages than `limit` asks for
    fail_after_accept: int = 0  # store the next N posts, then answer 503 (a proxy timing out)
    responses: list[SlackResponse] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    not_member_of: set[str] = field(default_factory=set)
    _script: deque[Response] = field(default_factory=deque)
    _update_script: deque[Response] = field(default_factory=deque)  # chat.update answers
    _counter: int = 0

    def __post_init__(self) -> None:
        FakeServer.__init__(self)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/services/T000/B000/fakewebhooksecret"

    def response_url(self, number: int = 1) -> str:
        """A response_url as Slack puts in slash commands and interactions."""
        return f"{self.url}/commands/T000/{number}/responsesecret"

    def fail_next(self, status: int, times: int = 1, *, retry_after: int = 1) -> None:
        """The next `times` message posts get this status (429 with Retry-After, 5xx)."""
        for _ in range(times):
            error = "ratelimited" if status == 429 else "internal_error"
            headers = {"Retry-After": str(retry_after)} if status == 429 else {}
            self._script.append(Response(status, {"ok": False, "error": error}, headers))

    def fail_next_update(self, status: int, times: int = 1, *, retry_after: int = 1) -> None:
        """The next `times` chat.update calls get this status (429 with Retry-After, 5xx)."""
        for _ in range(times):
            error = "ratelimited" if status == 429 else "internal_error"
            headers = {"Retry-After": str(retry_after)} if status == 429 else {}
            self._update_script.append(Response(status, {"ok": False, "error": error}, headers))

    def handle(self, request: Request) -> Response | None:
        with self.lock:
            self.requests.append(request.path)
            self._peer = request.peer_port
            return self._route(request)

    def _route(self, request: Request) -> Response | None:
        if request.path.startswith("/services/"):
            return self._webhook(request)
        if request.path.startswith("/commands/"):
            self.responses.append(SlackResponse(request.path, request.json(), time.monotonic()))
            return Response(200, "ok")
        if request.path.startswith("/upload/"):
            self.uploads[request.path.rsplit("/", 1)[1]]["bytes"] = request.body
            return Response(200, f"OK - {len(request.body)}")
        if request.path == "/api/apps.connections.open":
            return self._apps_connections_open(request)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return Response(200, {"ok": False, "error": "invalid_auth"})
        method = request.path.removeprefix("/api/")
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return Response(200, {"ok": False, "error": "unknown_method"})
        return handler(_params(request))

    def _chat_postMessage(self, params: dict[str, Any]) -> Response | None:
        problems = check_blocks(params.get("blocks") or [])
        if problems:
            return Response(200, {"ok": False, "error": "invalid_blocks", "errors": problems})
        if not params.get("text") and not params.get("blocks"):
            return Response(200, {"ok": False, "error": "no_text"})
        if self._script:
            return self._script.popleft()
        post = self._record(params, "bot")
        if self.on_accept is not None and not self.on_accept(self._peer):
            return None
        if self.fail_after_accept > 0:
            self.fail_after_accept -= 1
            return Response(503, {"ok": False, "error": "service_unavailable"})
        if self._kill_now("post"):
            return None
        return Response(
            200,
            {
                "ok": True,
                "channel": post.channel,
                "ts": post.ts,
                "message": self._message(post, with_metadata=True),
            },
        )

    def _kill_now(self, point: str) -> bool:
        """SIGKILL the armed client at this point (`kill_at`), once its N-th post is in."""
        if self.kill_pid is None or point != self.kill_at:
            return False
        if self.kill_at_post and sum(p.via == "bot" for p in self.messages) < self.kill_at_post:
            return False
        os.kill(self.kill_pid, self.kill_signal)
        self.kill_pid = None
        return True

    def arrivals(self, channel: str = CHANNEL_ID) -> list[str]:
        """The alert keys the bot posted in `channel`, in the order they arrived."""
        with self.lock:
            return [
                p.payload["metadata"]["event_payload"]["alert_key"]
                for p in self.messages
                if p.channel == channel and p.via == "bot" and p.payload.get("metadata")
            ]

    def _record(self, params: dict[str, Any], via: str) -> SlackPost:
        self._counter += 1
        ts = f"{int(time.time())}.{self._counter:06d}"
        channel = "webhook" if via == "webhook" else CHANNEL_ID
        if via == "bot" and _CONVERSATION_ID.match(str(params.get("channel", ""))):
            channel = params["channel"]  # a channel by id, or a DM opened with conversations.open
        if via == "user":
            channel = params["channel"]
        post = SlackPost(ts, channel, params, via)
        self.messages.append(post)
        return post

    def _message(self, post: SlackPost, *, with_metadata: bool) -> dict[str, Any]:
        data = {
            "type": "message",
            "ts": post.ts,
            "text": post.payload.get("text", ""),
            "blocks": post.payload.get("blocks", []),
        }
        if post.via == "user":
            data["user"] = "U0TRADER1"
        else:
            data["bot_id"] = "B0BOT"
        if with_metadata and post.payload.get("metadata"):
            data["metadata"] = post.payload["metadata"]
        return data

    def _conversations_history(self, params: dict[str, Any]) -> Response:
        """conversations.history as Slack documents it: newest first, paged by cursor.

        Messages between `oldest` and `latest` (exclusive unless `inclusive`; `latest` defaults
        to now), at most `limit` (default 100, at most 999, and never more than `max_page`: Slack
        may return fewer than asked) per page; `has_more` and `response_metadata.next_cursor`
        lead to the next, older page.
        """
        try:
            window = _history_window(params)
            start = _decode_cursor(params.get("cursor"))
        except ValueError as error:
            return Response(200, {"ok": False, "error": str(error)})
        with_metadata = str(params.get("include_all_metadata")).lower() in ("1", "true")
        found = [p for p in self.messages if p.channel == params["channel"] and window(p.ts)]
        newest_first = sorted(found, key=lambda p: _ts_key(p.ts), reverse=True)
        size = min(int(params.get("limit") or 100), 999, self.max_page)
        page = newest_first[start : start + size]
        body: dict[str, Any] = {
            "ok": True,
            "messages": [self._message(p, with_metadata=with_metadata) for p in page],
            "has_more": start + size < len(newest_first),
        }
        if body["has_more"]:
            body["response_metadata"] = {"next_cursor": _encode_cursor(start + size)}
        return Response(200, body)

    def _conversations_replies(self, params: dict[str, Any]) -> Response:
        """A thread: the parent, then its replies (here: the files shared into it), oldest first."""
        if self.fail_replies > 0:
            self.fail_replies -= 1
            return Response(500, {"ok": False, "error": "internal_error"})
        parent = [p for p in self.messages if p.ts == params.get("ts")]
        if not parent or parent[0].channel != params.get("channel"):
            return Response(200, {"ok": False, "error": "thread_not_found"})
        post = parent[0]
        replies = [_file_reply(post, number, f) for number, f in enumerate(post.files, 1)]
        messages = [self._message(post, with_metadata=False), *replies]
        return Response(200, {"ok": True, "messages": messages, "has_more": False})

    def post_chatter(self, channel: str, count: int) -> None:
        """`count` messages from people (no metadata) in the channel: a busy desk channel."""
        with self.lock:
            for number in range(count):
                self._record({"channel": channel, "text": f"chatter {number}"}, "user")

    def _apps_connections_open(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {self.app_token}":
            return Response(200, {"ok": False, "error": "invalid_auth"})
        if self.socket_url is None:
            return Response(200, {"ok": False, "error": "socket_mode_not_enabled"})
        return Response(200, {"ok": True, "url": self.socket_url})

    def _auth_test(self, params: dict[str, Any]) -> Response:
        return Response(
            200,
            {
                "ok": True,
                "url": f"{self.url}/",
                "team": "Desk",
                "user": "rotation-bot",
                "team_id": "T000",
                "user_id": BOT_USER_ID,
                "bot_id": "B0BOT",
            },
        )

    def _conversations_open(self, params: dict[str, Any]) -> Response:
        user = str(params.get("users", ""))
        if not user.startswith(("U", "W")) or "," in user:
            return Response(200, {"ok": False, "error": "user_not_found"})
        return Response(200, {"ok": True, "channel": {"id": "D" + user[1:].ljust(8, "0")}})

    def _chat_update(self, params: dict[str, Any]) -> Response:
        if self._update_script:
            return self._update_script.popleft()
        problems = check_blocks(params.get("blocks") or [])
        if problems:
            return Response(200, {"ok": False, "error": "invalid_blocks", "errors": problems})
        found = [p for p in self.messages if p.ts == params.get("ts")]
        if not found or found[0].channel != params.get("channel"):
            return Response(200, {"ok": False, "error": "message_not_found"})
        post = found[0]
        post.payload = {**post.payload, "text": params.get("text"), "blocks": params["blocks"]}
        self.updates.append(params)
        return Response(200, {"ok": True, "channel": post.channel, "ts": post.ts})

    def _files_getUploadURLExternal(self, params: dict[str, Any]) -> Response | None:
        file_id = f"F{len(self.uploads) + 1:08d}"
        if self._kill_now("upload"):
            return None  # posted, but the chart never started: the sender died in between
        upload = {"id": file_id, "filename": params["filename"], "length": int(params["length"])}
        self.uploads[file_id] = upload
        upload_url = f"{self.url}/upload/{file_id}"
        return Response(200, {"ok": True, "upload_url": upload_url, "file_id": file_id})

    def _files_completeUploadExternal(self, params: dict[str, Any]) -> Response | None:
        if params.get("channel_id") in self.not_member_of:
            return Response(200, {"ok": False, "error": "not_in_channel"})
        files = json.loads(params["files"])
        for item in files:
            upload = self.uploads.get(item["id"])
            if upload is None or "bytes" not in upload:
                return Response(200, {"ok": False, "error": "file_not_found"})
            upload.update(
                title=item.get("title"),
                channel=params.get("channel_id"),
                thread_ts=params.get("thread_ts"),
            )
            for post in self.messages:
                if post.ts == params.get("thread_ts"):
                    post.files.append(upload)
        if self._kill_now("shared"):
            return None  # the chart is in the thread, the sender never hears it
        return Response(200, {"ok": True, "files": [{"id": f["id"]} for f in files]})

    def _webhook(self, request: Request) -> Response:
        params = request.json()
        if check_blocks(params.get("blocks") or []):
            return Response(400, "invalid_blocks")
        if self._script:
            scripted = self._script.popleft()
            return Response(scripted.status, scripted.body["error"], scripted.headers)
        self._record(params, "webhook")
        return Response(200, "ok")


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)


def _history_window(params: dict[str, Any]) -> Callable[[str], bool]:
    """Which message timestamps lie between `oldest` and `latest` (bounds per `inclusive`)."""
    try:
        oldest = _ts_key(str(params.get("oldest") or "0"))
        latest = _ts_key(str(params["latest"])) if params.get("latest") else (2**62, 0)
    except ValueError:
        raise ValueError("invalid_ts_oldest") from None
    if str(params.get("inclusive")).lower() in ("1", "true"):
        return lambda ts: oldest <= _ts_key(ts) <= latest
    return lambda ts: oldest < _ts_key(ts) < latest


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"next_offset:{offset}".encode()).decode()


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.b64decode(cursor, validate=True).decode()
        return int(text.removeprefix("next_offset:"))
    except (ValueError, UnicodeDecodeError):
        raise ValueError("invalid_cursor") from None


def _file_reply(post: SlackPost, number: int, upload: dict[str, Any]) -> dict[str, Any]:
    seconds, _, micros = post.ts.partition(".")
    return {
        "type": "message",
        "ts": f"{seconds}.{int(micros) + number:06d}",
        "thread_ts": post.ts,
        "bot_id": "B0BOT",
        "files": [{"id": upload["id"], "name": upload["filename"], "title": upload.get("title")}],
    }


def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        params.update(request.json())
    elif request.body:
        params.update(request.form())
    for key in ("blocks", "metadata"):
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params


def check_blocks(blocks: list[dict[str, Any]]) -> list[str]:
    """Block Kit limit violations, in Slack's `invalid_blocks` wording."""
    problems = []
    if len(blocks) > 50:
        problems.append("no more than 50 items allowed [json-pointer:/blocks]")
    for index, block in enumerate(blocks):
        problems += _check_block(index, block)
    return problems


def _check_block(index: int, block: dict[str, Any]) -> list[str]:
    where = f"[json-pointer:/blocks/{index}"
    text = (block.get("text") or {}).get("text", "")
    if block["type"] == "header" and len(text) > 150:
        return [f"must be less than 151 characters {where}/text/text]"]
    problems = []
    if block["type"] == "section":
        if len(text) > 3000:
            problems.append(f"must be less than 3001 characters {where}/text/text]")
        fields = block.get("fields") or []
        if len(fields) > 10:
            problems.append(f"no more than 10 items allowed {where}/fields]")
        problems += [
            f"must be less than 2001 characters {where}/fields/{i}/text]"
            for i, item in enumerate(fields)
            if len(item["text"]) > 2000
        ]
        if not text and not fields:
            problems.append(f"must provide text or fields {where}]")
    return problems

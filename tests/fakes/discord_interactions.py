"""The fake Discord API plus what an interactive bot needs: login, command sync, interactions.

Adds to `FakeDiscord`: GET /oauth2/applications/@me, PUT /applications/{app}/commands,
GET /gateway/bot (pointing at this server, which refuses the websocket),
POST /interactions/{id}/{token}/callback (types 4 message, 5 deferred, 6 deferred update,
7 update message, 8 autocomplete; a second response is refused with 40060 like Discord),
follow-ups POST /webhooks/{app}/{token}, PATCH and DELETE
/webhooks/{app}/{token}/messages/@original, and POST /users/@me/channels (DM channels).

Like Discord, the first follow-up after a type-5 defer fills the "thinking" message and keeps
the defer's visibility; once that message is deleted, follow-ups are new messages with their
own flags. Tests open an interaction with `open_interaction` (Discord knows its channel and,
for a button, the message it sits on) and read what happened in `steps`.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.discord_api import (
    BOT_ID,
    FakeDiscord,
    Posted,
    _form_error,
    _headers,
    _read_payload,
    _user,
    check_limits,
)
from tests.fakes.httpfake import Request, Response

APP_ID = BOT_ID  # a bot's application id is its user id
CHANNEL = "700000000000000001"
EPHEMERAL, LOADING = 64, 128
_ids = itertools.count(1)


@dataclass
class Step:
    """One request the bot made for an interaction (or to sync, or to open a DM)."""

    token: str
    action: str  # callback | followup | edit_original | delete_original
    payload: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """`callback:<type>` or the action."""
        return f"callback:{self.payload['type']}" if self.action == "callback" else self.action

    @property
    def message(self) -> dict[str, Any]:
        """The message data sent (a callback's `data`, or the whole follow-up/edit body)."""
        if self.action == "callback":
            return self.payload.get("data") or {}
        return self.payload

    @property
    def ephemeral(self) -> bool:
        return bool((self.message.get("flags") or 0) & EPHEMERAL)


@dataclass
class Opened:
    """An interaction Discord has sent the bot."""

    id: str
    kind: int
    channel_id: str
    message_id: str | None
    responded: int | None = None
    original: Posted | None = None
    over_http: bool = False  # answered in the body of Discord's POST to the bot's endpoint


@dataclass
class FakeDiscordApp(FakeDiscord):
    """FakeDiscord with login, command sync, interaction responses and DM channels."""

    steps: list[Step] = field(default_factory=list)
    opened: dict[str, Opened] = field(default_factory=dict)
    replies: list[Posted] = field(default_factory=list)
    synced: list[dict[str, Any]] | None = None
    dm_channels: dict[str, str] = field(default_factory=dict)
    answered: threading.Condition = field(default_factory=threading.Condition)

    def open_interaction(
        self,
        kind: int,
        *,
        channel_id: str = CHANNEL,
        message_id: str | None = None,
        over_http: bool = False,
    ) -> tuple[str, str]:
        """Register an interaction about to be dispatched; returns (id, token)."""
        number = next(_ids)
        interaction_id, token = str(600000000000000000 + number), f"itoken-{number}"
        self.opened[token] = Opened(
            interaction_id, kind, channel_id, message_id, over_http=over_http
        )
        return interaction_id, token

    def answer_over_http(self, token: str, payload: dict[str, Any]) -> int:
        """Take the bot's HTTP answer to an interaction, as Discord does; the status."""
        response = self._respond(token, payload, {})
        with self.answered:
            self.answered.notify_all()
        return response.status

    def sequence(self, token: str) -> list[str]:
        """What the bot did for one interaction, in order."""
        return [step.name for step in self.steps if step.token == token]

    def steps_for(self, token: str) -> list[Step]:
        return [step for step in self.steps if step.token == token]

    def message_by_id(self, message_id: str) -> Posted:
        """A channel post or an interaction's reply (its buttons can be pressed too)."""
        return next(m for m in [*self.messages, *self.replies] if m.id == message_id)

    def message_json(self, posted: Posted) -> dict[str, Any]:
        """A stored message as Discord includes it in an interaction."""
        return self._message(posted, with_nonce=False)

    def _route(self, request: Request) -> Response | None:
        parts = request.path.removeprefix("/api/v10").strip("/").split("/")
        if parts[:1] == ["interactions"] and parts[3:] == ["callback"]:
            return self._callback(request, parts[2])
        if parts[:2] == ["webhooks", APP_ID] and len(parts) >= 3 and parts[2] in self.opened:
            return self._webhook(request, parts[2], parts[3:])
        if self._authorised(request):
            found = self._app_route(request, parts)
            if found is not None:
                return found
        return super()._route(request)

    def _app_route(self, request: Request, parts: list[str]) -> Response | None:
        if parts == ["oauth2", "applications", "@me"]:
            return _ok(_app_info())
        if parts == ["gateway", "bot"]:  # a local URL that refuses the websocket: no network
            limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
            url = self.url.replace("http", "ws") + "/gateway"
            return _ok({"url": url, "shards": 1, "session_start_limit": limit})
        if parts[:1] == ["applications"] and parts[2:] == ["commands"] and request.method == "PUT":
            self.synced = request.json()
            return _ok([_command(c) for c in self.synced])
        if parts == ["users", "@me", "channels"] and request.method == "POST":
            user_id = str(request.json()["recipient_id"])
            channel = self.dm_channels.setdefault(user_id, str(500000000000000000 + next(_ids)))
            return _ok({"id": channel, "type": 1, "recipients": [{**_user(), "id": user_id}]})
        return None

    # Interaction responses

    def _callback(self, request: Request, token: str) -> Response:
        payload, files = _read_payload(request)
        return self._respond(token, payload, files)

    def _respond(self, token: str, payload: dict[str, Any], files: dict[str, bytes]) -> Response:
        opened = self.opened.get(token)
        if opened is None:
            return _error(404, 10062, "Unknown interaction")
        if opened.responded is not None:
            return _error(400, 40060, "Interaction has already been acknowledged.")
        kind = int(payload["type"])
        data = payload.get("data") or {}
        if kind in (4, 7) and (problems := check_limits(data, files)):
            return Response(400, _form_error(problems), _headers())
        self.steps.append(Step(token, "callback", payload, files))
        opened.responded = kind
        resource = self._resource(opened, kind, data, files)
        body: dict[str, Any] = {
            "interaction": {
                "id": opened.id,
                "type": opened.kind,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool((data.get("flags") or 0) & EPHEMERAL),
            }
        }
        if resource is not None:
            body["resource"] = {"type": kind, "message": self._message(resource)}
        return _ok(body)

    def _resource(
        self, opened: Opened, kind: int, data: dict[str, Any], files: dict[str, bytes]
    ) -> Posted | None:
        if kind == 4:
            opened.original = self._reply(opened, data, files)
        elif kind == 5:
            opened.original = self._reply(opened, {"flags": LOADING | (data.get("flags") or 0)}, {})
        elif kind == 7 and opened.message_id:
            return self._update(self.message_by_id(opened.message_id), data, files)
        return opened.original if kind in (4, 5) else None

    def _reply(self, opened: Opened, data: dict[str, Any], files: dict[str, bytes]) -> Posted:
        posted = self._record(opened.channel_id, data, files, None, "webhook:" + APP_ID)
        self.messages.remove(posted)  # replies are kept apart from channel posts
        self.replies.append(posted)
        return posted

    def _update(self, posted: Posted, data: dict[str, Any], files: dict[str, bytes]) -> Posted:
        """Apply an edit; a thinking message becomes a normal one, keeping its visibility."""
        changes = {k: v for k, v in data.items() if k != "flags"}
        flags = posted.payload.get("flags") or 0
        posted.payload = {**posted.payload, **changes, "flags": flags & ~LOADING}
        posted.files = {**posted.files, **files}
        return posted

    def _webhook(self, request: Request, token: str, rest: list[str]) -> Response:
        opened = self.opened[token]
        if opened.over_http:  # the HTTP answer may still be on its way back to "Discord"
            with self.answered:
                self.answered.wait_for(lambda: opened.responded is not None, timeout=3)
        if opened.responded is None:
            return _error(404, 10015, "Unknown Webhook")
        if rest == [] and request.method == "POST":
            return self._followup(request, token, opened)
        if rest == ["messages", "@original"]:
            return self._original(request, token, opened)
        return _error(404, 0, "404: Not Found")

    def _followup(self, request: Request, token: str, opened: Opened) -> Response:
        payload, files = _read_payload(request)
        if problems := check_limits(payload, files):
            return Response(400, _form_error(problems), _headers())
        self.steps.append(Step(token, "followup", payload, files))
        original = opened.original
        if original is not None and original.payload.get("flags", 0) & LOADING:
            # The first follow-up after a defer fills the thinking message, visibility kept.
            return _ok(self._message(self._update(original, payload, files)))
        return _ok(self._message(self._reply(opened, payload, files)))

    def _original(self, request: Request, token: str, opened: Opened) -> Response:
        target = opened.original
        if target is None and opened.message_id and opened.responded in (6, 7):
            target = self.message_by_id(opened.message_id)  # a button's original: its message
        if target is None:
            return _error(404, 10008, "Unknown Message")
        if request.method == "DELETE":
            self.steps.append(Step(token, "delete_original", {}))
            if target in self.replies:
                self.replies.remove(target)
            opened.original = None
            return Response(204)
        payload, files = _read_payload(request)
        if problems := check_limits(payload, {**target.files, **files}):
            return Response(400, _form_error(problems), _headers())
        self.steps.append(Step(token, "edit_original", payload, files))
        return _ok(self._message(self._update(target, payload, files)))


def _ok(body: Any) -> Response:
    return Response(200, body, _headers())


def _error(status: int, code: int, message: str) -> Response:
    return Response(status, {"message": message, "code": code}, _headers())


def _app_info() -> dict[str, Any]:
    return {
        "id": APP_ID,
        "name": "rotation-bot",
        "description": "",
        "icon": None,
        "bot_public": False,
        "bot_require_code_grant": False,
        "owner": {**_user(), "id": "100000000000000001", "bot": False},
        "verify_key": "0" * 64,
        "flags": 0,
    }


def _command(command: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(400000000000000000 + next(_ids)),
        "application_id": APP_ID,
        "version": "1",
        "type": 1,
        **command,
    }

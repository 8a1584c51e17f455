"""Discord over HTTP: the interactions endpoint, fed to the gateway client's own tree and buttons.

With `DISCORD_MODE=http` Discord POSTs every interaction to `/discord/interactions` instead of
sending it over a gateway session, so any replica behind a load balancer can answer it (two
gateway sessions of one bot both receive every interaction). Each request is checked by
`http_guard`, then parsed by discord.py's own `parse_interaction_create`, exactly as the
gateway path does, so the same `CommandTree`, transformers, autocomplete and dynamic buttons
run.

The first response goes back as the HTTP response body, which is how Discord documents
answering an interaction received over HTTP. discord.py always sends it to the callback
endpoint instead, through the webhook adapter it reads from its `async_context` variable;
`BodyAdapter` is that adapter with one change: an interaction's first response resolves the
waiting request instead of being POSTed. Follow-ups and edits go over REST as usual.
Discord waits 3 s, and under load (charts being drawn, a busy database) an answer that waits
on a thread may take longer: a command or button that has not answered after `DEFER_AFTER`
(enough for an answer that needs no thread, such as a refused option) gets a deferred
response at once, and its late answer becomes an edit of that deferred message (Discord's
documented "defer, then follow up" path). Autocomplete cannot be deferred: it gets until
`ANSWER_WITHIN`, then no choices.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from discord.webhook.async_ import AsyncWebhookAdapter, async_context

from bot.chat.discord.http_guard import (
    WINDOW_SECONDS,
    Rejected,
    SeenInteractions,
    check_signed,
    interaction_of,
    read_body,
    reject,
    verify_key,
)
from bot.chat.replays import SharedReplays
from bot.service.web import mount

if TYPE_CHECKING:
    from discord.http import MultipartParameters

    from bot.chat.discord.client import RotationClient

log = logging.getLogger(__name__)

INTERACTIONS_PATH = "/discord/interactions"
ANSWER_WITHIN = 2.5  # seconds: Discord drops an interaction not answered within 3
DEFER_AFTER = 0.25  # seconds: what an answer without database or chart work needs at most
PING, COMMAND, COMPONENT, AUTOCOMPLETE = 1, 2, 3, 4
PONG, DEFERRED_MESSAGE, DEFERRED_UPDATE, CHOICES = 1, 5, 6, 8
MESSAGE, UPDATE_MESSAGE = 4, 7
EPHEMERAL = 64
PRIVATE_DEFER = -DEFERRED_MESSAGE  # our own deferral of a command, always ephemeral
_LATE_KEPT = 1000  # interactions whose late answer is still expected (tokens live 15 min)


class BodyAdapter(AsyncWebhookAdapter):
    """discord.py's webhook adapter; a waiting interaction's first response becomes the body."""

    def __init__(self, application_id: Callable[[], int | None]) -> None:
        super().__init__()
        self.application_id = application_id  # the logged-in client's, for late edits
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.late: OrderedDict[int, int] = OrderedDict()  # id -> the defer type we answered
        self.sent: dict[int, asyncio.Event] = {}  # set once the HTTP answer is written

    def expect(self, interaction_id: int) -> asyncio.Future[dict[str, Any]]:
        """Wait for `interaction_id`'s first response: the future its HTTP answer awaits."""
        waiter = asyncio.get_running_loop().create_future()
        self.waiting[interaction_id], self.sent[interaction_id] = waiter, asyncio.Event()
        return waiter

    def body_sent(self, interaction_id: int) -> None:
        """The HTTP answer is on the wire: follow-ups and edits may go now."""
        sent = self.sent.pop(interaction_id, None)
        if sent is not None:
            sent.set()

    async def _after_body(self, interaction_id: int) -> None:
        # Discord must hold the answer before a follow-up or an edit can find the interaction.
        sent = self.sent.get(interaction_id)
        if sent is not None:
            try:
                await asyncio.wait_for(sent.wait(), ANSWER_WITHIN)
            except TimeoutError:
                self.sent.pop(interaction_id, None)

    async def create_interaction_response(  # type: ignore[override]
        self, interaction_id: int, token: str, *, params: MultipartParameters, **rest: Any
    ) -> Any:
        """Resolve the waiting HTTP request, or turn a late answer into an edit."""
        waiter = self.waiting.pop(interaction_id, None)
        payload = params.payload or json.loads(_payload_json(params.multipart))
        if waiter is not None and not waiter.done():
            if not params.files:
                waiter.set_result(payload)
                await self._after_body(interaction_id)
                return _callback_answer(interaction_id, payload)
            waiter.set_result(_deferred_like(payload))  # a file cannot ride in the JSON body
            self._remember_late(interaction_id, _defer_kind(payload))
            await self._after_body(interaction_id)
        if interaction_id in self.late:
            return await self._late_answer(interaction_id, token, payload, params, rest)
        return await super().create_interaction_response(
            interaction_id, token, params=params, **rest
        )

    def answer_late(self, interaction_id: int, kind: int) -> dict[str, Any]:
        """The body for an interaction not answered in time; its answer will edit it."""
        self.waiting.pop(interaction_id, None)
        if kind == AUTOCOMPLETE:
            return {"type": CHOICES, "data": {"choices": []}}
        if kind == COMPONENT:
            self._remember_late(interaction_id, DEFERRED_UPDATE)
            return {"type": DEFERRED_UPDATE}
        # Private: a public answer can replace a private deferral, but a private answer
        # filling a public one would show it to the whole channel.
        self._remember_late(interaction_id, PRIVATE_DEFER)
        return {"type": DEFERRED_MESSAGE, "data": {"flags": EPHEMERAL}}

    def _remember_late(self, interaction_id: int, deferred: int) -> None:
        self.late[interaction_id] = deferred
        while len(self.late) > _LATE_KEPT:
            self.late.popitem(last=False)

    async def _late_answer(
        self,
        interaction_id: int,
        token: str,
        payload: dict[str, Any],
        params: MultipartParameters,
        rest: dict[str, Any],
    ) -> Any:
        """A response after our deferral: sent as the edit or follow-up Discord accepts."""
        await self._after_body(interaction_id)
        kind = int(payload.get("type", 0))
        deferred = self.late.pop(interaction_id, None)
        data = payload.get("data") or {}
        message = {
            "payload": None if params.files else data,
            "multipart": _data_only(params.multipart) if params.files else None,
            "files": params.files,
        }
        app_id = self.application_id() or 0
        if kind == UPDATE_MESSAGE or (kind == MESSAGE and deferred == _defer_matching(data)):
            await self.edit_original_interaction_response(app_id, token, **message, **rest)
        elif kind == MESSAGE and deferred == DEFERRED_UPDATE:  # a new message, not an edit
            await self.execute_webhook(app_id, token, **message, **rest)
        elif kind == MESSAGE:  # visibility differs from our deferral's: replace it
            await self.delete_original_interaction_response(app_id, token, **rest)
            await self.execute_webhook(app_id, token, **message, **rest)
        elif kind == CHOICES:
            log.info("autocomplete answered after Discord's 3 s; choices dropped")
        elif deferred is not None:
            self.late[interaction_id] = deferred  # a defer of ours already stands; still late
        return _callback_answer(interaction_id, payload)


def over_http() -> bool:
    """Whether the interaction being handled came through the endpoint, which defers it.

    The tasks discord.py starts for an interaction copy the context `_dispatch` set.
    """
    return isinstance(async_context.get(), BodyAdapter)


def _defer_matching(data: dict[str, Any]) -> int:
    """The deferral a message can fill in place: one of the same visibility."""
    return PRIVATE_DEFER if int(data.get("flags") or 0) & EPHEMERAL else DEFERRED_MESSAGE


def _payload_json(multipart: list[dict[str, Any]] | None) -> str:
    for part in multipart or []:
        if part.get("name") == "payload_json":
            return str(part["value"])
    return "{}"


def _data_only(multipart: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """A callback's multipart form as an edit's: `payload_json` holds only the message data."""
    parts = []
    for part in multipart or []:
        if part.get("name") == "payload_json":
            data = json.loads(str(part["value"])).get("data") or {}
            part = {**part, "value": json.dumps(data)}
        parts.append(part)
    return parts


def _deferred_like(payload: dict[str, Any]) -> dict[str, Any]:
    """The defer that stands in for `payload` (same visibility) when it cannot be the body."""
    if int(payload.get("type", 0)) == UPDATE_MESSAGE:
        return {"type": DEFERRED_UPDATE}
    flags = int((payload.get("data") or {}).get("flags") or 0) & EPHEMERAL
    return {"type": DEFERRED_MESSAGE, "data": {"flags": flags}} if flags else {"type": 5}


def _defer_kind(payload: dict[str, Any]) -> int:
    """How `_deferred_like(payload)` is remembered."""
    if int(payload.get("type", 0)) == UPDATE_MESSAGE:
        return DEFERRED_UPDATE
    return _defer_matching(payload.get("data") or {})


def _callback_answer(interaction_id: int, payload: dict[str, Any]) -> dict[str, Any]:
    """What discord.py expects back from the callback endpoint (no message resource)."""
    flags = int((payload.get("data") or {}).get("flags") or 0)
    return {
        "interaction": {
            "id": str(interaction_id),
            "response_message_loading": payload.get("type") == DEFERRED_MESSAGE,
            "response_message_ephemeral": bool(flags & EPHEMERAL),
        }
    }


class InteractionsEndpoint:
    """`POST /discord/interactions`: verified, then run by `client`'s tree and buttons."""

    def __init__(
        self,
        client: RotationClient,
        public_key: str,
        *,
        now: Callable[[], float] = time.time,
        answer_within: float = ANSWER_WITHIN,
        defer_after: float = DEFER_AFTER,
        shared: SharedReplays | None = None,
    ) -> None:
        self.client, self.key, self.now = client, verify_key(public_key), now
        self.answer_within, self.defer_after = answer_within, defer_after
        self.adapter = BodyAdapter(lambda: client.application_id)
        self.seen = SeenInteractions()
        self.shared = shared  # every replica's memory (the database); None: this process only

    async def handle(self, request: web.Request) -> web.Response:
        """Check the request, answer PING, run anything else through discord.py."""
        try:
            body = await read_body(request)
            check_signed(request, body, self.key, self.now())
            payload = interaction_of(body)
        except Rejected as rejected:
            return reject(request, rejected)
        if payload["type"] == PING:
            return web.json_response({"type": PONG})
        try:
            answer = await self._run(payload)
        except Rejected as rejected:
            return reject(request, rejected)
        response = web.json_response(answer)
        try:
            await response.prepare(request)
            await response.write_eof()
        finally:
            self.adapter.body_sent(int(payload["id"]))
        return response

    async def _check_shared(self, interaction_id: int) -> None:
        """Rejected(401) if another replica, or this one before a restart, ran it already."""
        now = self.now()
        key, until = f"discord:{interaction_id}", now + WINDOW_SECONDS
        if self.shared is not None and await self.shared.seen_before(key, until, now):
            raise Rejected(401, "interaction replayed within five minutes")

    async def _run(self, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            interaction_id, kind = int(payload["id"]), int(payload["type"])
        except (KeyError, TypeError, ValueError):
            raise Rejected(400, "body has no interaction id") from None
        self.seen.check_new(str(interaction_id), self.now())
        await self._check_shared(interaction_id)
        waiter = self.adapter.expect(interaction_id)
        self._dispatch(payload)
        within = self.answer_within
        if kind != AUTOCOMPLETE:
            within = min(within, self.defer_after)
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), within)
        except TimeoutError:
            if waiter.done():  # answered just as the wait ran out: that answer is the body
                return waiter.result()
            log.debug("interaction %d not answered in %.2f s: deferred", kind, within)
            return self.adapter.answer_late(interaction_id, kind)

    def _dispatch(self, payload: dict[str, Any]) -> None:
        # The tasks discord.py starts here copy the context, so they see BodyAdapter.
        previous = async_context.set(self.adapter)
        try:
            self.client._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            self.adapter.waiting.pop(int(payload["id"]), None)
            self.adapter.body_sent(int(payload["id"]))
            reason = f"body of an unexpected shape ({type(error).__name__})"
            raise Rejected(400, reason) from None
        finally:
            async_context.reset(previous)


async def serve_interactions(
    client: RotationClient,
    public_key: str,
    host: str,
    port: int,
    *,
    started: asyncio.Event | None = None,
    shared: SharedReplays | None = None,
) -> None:
    """Serve the endpoint on the port's shared web server until cancelled.

    `shared`: the replay memory every replica shares (None: this process's only).
    """
    endpoint = InteractionsEndpoint(client, public_key, shared=shared)
    mounted = await mount(host, port, {("POST", INTERACTIONS_PATH): endpoint.handle})
    try:
        log.info("Discord interactions over HTTP on %s:%d%s", host, mounted.port, INTERACTIONS_PATH)
        if started is not None:
            started.set()
        await asyncio.Event().wait()  # until the service cancels this task
    finally:
        await mounted.cleanup()

"""The public port's door: connection caps and deadlines, before any HTTP is parsed.

aiohttp keeps a connection that never sends a complete request, and accepts as many as the
process has file descriptors; past that limit `accept()` fails in a loop and every signed
request and `/healthz` time out. Here each connection is counted per client address and in
total when it is made, and one over a cap is closed at once without reading a byte (the
cheapest refusal there is). An admitted connection must complete a request's headers
within `header_timeout` of connecting, and the next one within `idle_timeout` of the last
answer (idle keep-alive); bodies are read within `body_timeout` (`read_body`). The total cap
is kept under the process's open-file limit, whatever it is set to.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from bot.service.log_limits import once_per_minute

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

FILES_KEPT_BACK = 128  # descriptors left for the database, threads, outgoing HTTPS, charts


@dataclass(frozen=True)
class DoorLimits:
    """Caps and deadlines of one port (settings `ROTATION_HTTP_*`)."""

    max_connections: int = 512
    max_per_address: int = 64
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    idle_timeout: float = 15.0

    @classmethod
    def from_settings(cls, settings: Settings) -> DoorLimits:
        """The limits the settings ask for."""
        return cls(
            max_connections=settings.http_max_connections,
            max_per_address=settings.http_max_per_address,
            header_timeout=settings.http_header_timeout,
            body_timeout=settings.http_body_timeout,
            idle_timeout=settings.http_idle_timeout,
        )

    def total_cap(self) -> int:
        """`max_connections`, lowered to fit under the open-file limit of this process."""
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return self.max_connections
        return max(1, min(self.max_connections, soft - FILES_KEPT_BACK))


class Door:
    """Counts open connections per address; says who may come in."""

    def __init__(self, limits: DoorLimits) -> None:
        self.limits, self.cap = limits, limits.total_cap()
        self.open: Counter[str] = Counter()
        self.total = 0
        self.refused = 0

    def admit(self, address: str) -> bool:
        """Count one connection from `address`, or False when a cap is reached."""
        if self.total >= self.cap or self.open[address] >= self.limits.max_per_address:
            self.refused += 1
            why = "total" if self.total >= self.cap else "per address"
            once_per_minute(log, f"cap {why}", "connection refused: %s cap reached", why)
            return False
        self.open[address] += 1
        self.total += 1
        return True

    def leave(self, address: str) -> None:
        """One connection from `address` closed."""
        self.total -= 1
        self.open[address] -= 1
        if self.open[address] <= 0:
            del self.open[address]


class GuardedHandler(RequestHandler):
    """aiohttp's protocol, admitted by the door and closed when a deadline passes."""

    def __init__(self, manager: web.Server, door: Door, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self.door, self.address = door, ""
        self.admitted = False
        self.deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if peer else "?"
        if not self.door.admit(self.address):
            transport.abort()  # no parsing, no answer: a refusal costs one accept and close
            return
        self.admitted = True
        super().connection_made(transport)
        self._arm(self.door.limits.header_timeout)

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self.admitted:
            return
        self.admitted = False
        self._disarm()
        self.door.leave(self.address)
        super().connection_lost(exc)

    def request_started(self) -> None:
        """Headers are in: the handler's own time is not the door's business."""
        self._disarm()

    def request_done(self) -> None:
        """Answered: the next request must come within the idle keep-alive time."""
        if self.admitted:
            self._arm(self.door.limits.idle_timeout)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self.deadline = self._loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _too_slow(self) -> None:
        self.deadline = None
        once_per_minute(log, "too slow", "connection closed: no complete request in time")
        if self.transport is not None:
            self.transport.abort()


class GuardedServer(web.Server):
    """aiohttp's low-level server whose connections go through `door`."""

    def __init__(self, handler: Any, door: Door, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.door = door

    def __call__(self) -> RequestHandler:
        return GuardedHandler(self, self.door, loop=self._loop, **self._kwargs)


def guarded_protocol(request: web.BaseRequest) -> GuardedHandler | None:
    """The connection of `request` when the door watches it."""
    protocol = request.protocol
    return protocol if isinstance(protocol, GuardedHandler) else None


async def read_body(request: web.BaseRequest, limit: int) -> bytes:
    """The whole body within the port's body deadline; web.HTTPException when refused.

    413 when it is larger than `limit` (known from Content-Length before reading), 408 when
    it does not arrive in time, 400 when the client hangs up half-way.
    """
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    protocol = guarded_protocol(request)
    seconds = protocol.door.limits.body_timeout if protocol else DoorLimits.body_timeout
    try:  # request.read() keeps the body: a handler behind this one reads it again
        body = await asyncio.wait_for(request.read(), seconds)
    except TimeoutError:
        raise web.HTTPRequestTimeout(text="body not received in time") from None
    except ConnectionResetError:
        raise web.HTTPBadRequest(text="body cut off (connection closed)") from None
    if len(body) > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(body))
    return body


MAX_NESTING = 64  # real Discord and Slack bodies nest about 10 deep


class TooNested(ValueError):
    """JSON nested deeper than anything a platform sends (or past Python's recursion limit)."""


def load_json(text: str | bytes, max_depth: int = MAX_NESTING) -> Any:
    """`json.loads`, refusing (TooNested) what nests deeper than `max_depth`.

    `[[[[…` under a kilobyte makes `json.loads` raise RecursionError, and anything that walks
    a deep value recursively later (a chat SDK building its objects) can do the same.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise TooNested(f"JSON nested deeper than {max_depth}") from None
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise TooNested(f"JSON nested deeper than {max_depth}")
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return value

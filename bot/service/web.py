"""One web server per port, shared by everything the service answers over HTTP.

Slack's HTTP mode (`/slack/events`), Discord's interactions endpoint (`/discord/interactions`)
and the metrics (`/metrics`, `/healthz`) each `mount` their routes on a port; those asking
for the same port share one aiohttp server, so a replica behind a load balancer exposes one
port. The first mount binds the port, the last one to leave closes it. Chat adapters mount
after they have logged in, when the server may already run, so requests go through a route
table of our own rather than aiohttp's router, which freezes once started. Every connection
goes through the port's door first (`web_door`: caps per address and in total, deadlines).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from bot.service.log_limits import once_per_minute, quiet_library_errors
from bot.service.web_door import Door, DoorLimits, GuardedServer, guarded_protocol

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Route = tuple[str, str]  # (method, path)


class Rejected(Exception):
    """A request answered before it reaches a chat SDK: the status and a short reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def refuse(
    request: web.Request, rejected: Rejected, what: str, logger: logging.Logger
) -> web.Response:
    """Answer `rejected`, never logging the body: one line per reason a minute, with a count."""
    size = request.content_length if request.content_length is not None else -1
    once_per_minute(
        logger,
        f"{what} {rejected.status} {rejected.reason.split(' (')[0]}",  # not the sender's text
        "%s rejected with %d: %s (%d bytes from %s)",
        what,
        rejected.status,
        rejected.reason,
        size,
        request.remote,
    )
    return web.Response(status=rejected.status, text=rejected.reason)


PUBLIC_HOST = "0.0.0.0"  # noqa: S104  (the chat endpoints must be reachable: TLS in front)
_LIMITS = [DoorLimits()]  # the service sets them once from its settings (`set_limits`)


def set_limits(limits: DoorLimits) -> None:
    """The caps and deadlines of every port opened from now on."""
    _LIMITS[0] = limits


class WebServer:
    """An aiohttp server on one host and port, answering whatever routes are mounted."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.routes: dict[Route, Handler] = {}
        self.door = Door(_LIMITS[0])
        self._runner: web.ServerRunner | None = None
        self._users = 0
        self._lock = asyncio.Lock()

    def add(self, routes: Mapping[Route, Handler]) -> None:
        """Serve `routes`; ValueError when one of them is already served here."""
        taken = sorted(f"{m} {p}" for m, p in routes if (m, p) in self.routes)
        if taken:
            raise ValueError(f"port {self.port} already serves {', '.join(taken)}")
        self.routes.update(routes)

    async def open(self) -> None:
        """Count one more user; bind the port for the first (`port` becomes the bound one)."""
        async with self._lock:
            if self._runner is None:
                quiet_library_errors()
                limits = self.door.limits
                server = GuardedServer(
                    self._dispatch, self.door, access_log=None,
                    keepalive_timeout=limits.idle_timeout, max_field_size=8190,
                    max_line_size=8190, max_headers=64,
                )  # fmt: skip
                runner = web.ServerRunner(server)
                await runner.setup()
                try:
                    await web.TCPSite(runner, self.host, self.port).start()
                except BaseException:
                    await runner.cleanup()
                    raise
                self._runner, self.port = runner, int(runner.addresses[0][1])
                _SERVERS.setdefault(self.port, self)  # a port 0 mount is found by its port
            self._users += 1

    async def close(self) -> None:
        """One user fewer; the last one closes the listener."""
        async with self._lock:
            self._users -= 1
            if self._users <= 0 and self._runner is not None:
                await self._runner.cleanup()
                self._runner = None
                _SERVERS.pop(self.port, None)

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        connection = guarded_protocol(request)
        if connection is not None:
            connection.request_started()
        try:
            return await self._answer(request)
        except web.HTTPException as refused:  # the low-level server would log it as an error
            return _as_response(refused)
        finally:
            if connection is not None:
                connection.request_done()

    async def _answer(self, request: web.BaseRequest) -> web.StreamResponse:
        handler = self.routes.get((request.method, request.path))
        if handler is not None:
            return await handler(request)  # type: ignore[arg-type]
        if any(path == request.path for _, path in self.routes):
            raise web.HTTPMethodNotAllowed(request.method, self._methods(request.path))
        raise web.HTTPNotFound()

    def _methods(self, path: str) -> list[str]:
        return sorted(method for method, served in self.routes if served == path)


def _as_response(refused: web.HTTPException) -> web.Response:
    headers = {k: v for k, v in refused.headers.items() if k.lower() != "content-length"}
    return web.Response(status=refused.status, text=refused.text, headers=headers)


_SERVERS: dict[int, WebServer] = {}  # by port; port 0 (any free port) is never shared


def server_for(host: str, port: int) -> WebServer:
    """The server of `port`, created on first use; a second host for one port is refused."""
    server = _SERVERS.get(port) if port else None
    if server is None:
        server = WebServer(host, port)
        if port:
            _SERVERS[port] = server
    elif server.host != host:
        raise ValueError(f"port {port} is served on {server.host}, not {host}: use one host")
    return server


@dataclass
class Mounted:
    """Routes mounted on a shared server; `cleanup()` takes them off (and may close it)."""

    server: WebServer
    routes: tuple[Route, ...]

    @property
    def port(self) -> int:
        """The bound port (the real one when 0 was asked)."""
        return self.server.port

    async def cleanup(self) -> None:
        """Stop serving these routes; the last mount on the port closes it."""
        for route in self.routes:
            self.server.routes.pop(route, None)
        await self.server.close()


async def mount(host: str, port: int, routes: Mapping[Route, Handler]) -> Mounted:
    """Serve `routes` on `host:port`, sharing the server with other mounts on that port."""
    server = server_for(host, port)
    server.add(routes)
    try:
        await server.open()
    except BaseException:
        for route in routes:
            server.routes.pop(route, None)
        if not server._users:
            _SERVERS.pop(port, None)
        raise
    paths = ", ".join(sorted({path for _, path in routes}))
    log.info("serving %s on http://%s:%d", paths, server.host, server.port)
    return Mounted(server, tuple(routes))


def metrics_port_problems(settings: Settings, port: int, setting: str) -> list[str]:
    """A `config error:` line when the metrics would share a chat `port` on another host.

    The chat endpoints listen on all interfaces; one port has one host, so metrics bound to
    127.0.0.1 on the same port cannot be served, and the chat adapter would die at start.
    """
    if settings.metrics_port != port or settings.metrics_host == PUBLIC_HOST:
        return []
    return [
        f"config error: ROTATION_METRICS_PORT={port} is also {setting}, which listens on all "
        f"interfaces, but ROTATION_METRICS_HOST is {settings.metrics_host}: give the metrics "
        "their own port (e.g. 9464; they stay private on 127.0.0.1), or set "
        f"ROTATION_METRICS_HOST={PUBLIC_HOST} to publish /metrics on the chat port"
    ]

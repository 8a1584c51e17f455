"""One web server per port, shared by everything the service answers over HTTP.

Slack's HTTP mode (`/slack/events`), Discord's interactions endpoint (`/discord/interactions`)
and the metrics (`/metrics`, `/healthz`) each `mount` their routes on a port; those asking
for the same port share one aiohttp server, so a replica behind a load balancer exposes one
port. The first mount binds the port, the last one to leave closes it. Chat adapters mount
after they have logged in, when the server may already run, so requests go through a route
table of our own rather than aiohttp's router, which freezes once started.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

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
    """Answer `rejected` with one log line, never the body: a flood must not flood the log."""
    size = request.content_length if request.content_length is not None else -1
    logger.warning(
        "%s rejected with %d: %s (%d bytes from %s)",
        what,
        rejected.status,
        rejected.reason,
        size,
        request.remote,
    )
    return web.Response(status=rejected.status, text=rejected.reason)


class WebServer:
    """An aiohttp server on one host and port, answering whatever routes are mounted."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.routes: dict[Route, Handler] = {}
        self._runner: web.AppRunner | None = None
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
                app = web.Application()
                app.router.add_route("*", "/{tail:.*}", self._dispatch)
                runner = web.AppRunner(app, access_log=None)
                await runner.setup()
                try:
                    await web.TCPSite(runner, self.host, self.port).start()
                except BaseException:
                    await runner.cleanup()
                    raise
                self._runner, self.port = runner, int(runner.addresses[0][1])
            self._users += 1

    async def close(self) -> None:
        """One user fewer; the last one closes the listener."""
        async with self._lock:
            self._users -= 1
            if self._users <= 0 and self._runner is not None:
                await self._runner.cleanup()
                self._runner = None
                _SERVERS.pop(self.port, None)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        handler = self.routes.get((request.method, request.path))
        if handler is not None:
            return await handler(request)
        if any(path == request.path for _, path in self.routes):
            raise web.HTTPMethodNotAllowed(request.method, self._methods(request.path))
        raise web.HTTPNotFound()

    def _methods(self, path: str) -> list[str]:
        return sorted(method for method, served in self.routes if served == path)


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

"""A local stand-in for Slack's Socket Mode websocket, on 127.0.0.1 in the test's event loop.

It greets a client with `hello`, lets the test push envelopes (`slash_commands`,
`interactive`) and collects what the client sends back (the acks, by envelope id).
Point `FakeSlack.socket_url` at `url` so `apps.connections.open` hands it out.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import WSMsgType, web


class FakeSocketMode:
    """One websocket endpoint; `acks` receives every JSON message the client sends."""

    def __init__(self) -> None:
        self.acks: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.connected = asyncio.Event()
        self.closed = asyncio.Event()
        self.url = ""
        self._socket: web.WebSocketResponse | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> FakeSocketMode:
        app = web.Application()
        app.router.add_get("/link", self._link)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"ws://127.0.0.1:{self._runner.addresses[0][1]}/link"
        return self

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._socket = socket
        await socket.send_json({"type": "hello", "num_connections": 1, "debug_info": {}})
        self.connected.set()
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                await self.acks.put(json.loads(message.data))
        self.closed.set()
        return socket

    async def send(self, envelope: dict[str, Any]) -> None:
        """Push one envelope to the connected client."""
        assert self._socket is not None, "no client connected"
        await self._socket.send_json(envelope)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

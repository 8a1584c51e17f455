"""Discord's global rate limit, seen from one replica and shared with the others.

The global limit (50 requests a second) belongs to the bot token, so every replica's posts
count against it together. discord.py waits out a global 429 inside the process that got it;
an aiohttp trace on its session tells the outbox sender at once, which holds the shared
pacing bucket (`storage.pacing`) so the other replicas wait too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp

GLOBAL_BUCKET = "discord:bot"
GLOBAL_INTERVAL = 1 / 50


def global_retry_after(status: int, headers: Any) -> float | None:
    """The wait of a global 429 (`X-RateLimit-Global: true`), None for any other answer."""
    if status != 429 or str(headers.get("X-RateLimit-Global", "")).lower() != "true":
        return None
    try:
        return max(float(headers.get("Retry-After", 1.0)), 0.0)
    except ValueError:
        return 1.0


def global_limit_trace(
    listener: Callable[[], Callable[[float], None] | None],
) -> aiohttp.TraceConfig:
    """A trace that calls the current `listener()` with the wait of every global 429."""
    trace = aiohttp.TraceConfig()

    async def on_end(_session: Any, _context: Any, params: Any) -> None:
        seconds = global_retry_after(params.response.status, params.response.headers)
        held = listener()
        if seconds is not None and held is not None:
            held(seconds)

    trace.on_request_end.append(on_end)
    return trace

"""Slack Socket Mode, connected like Discord's gateway: one warning per try, with backoff.

slack_sdk's Socket Mode client retries a failed connection itself, every few seconds,
forever, logging each failure with a traceback (about 5 KB every 11 s while Slack is
unreachable), and a task cancelled during that loop left its aiohttp session unclosed.
Here the first step (`apps.connections.open`, which fails when Slack cannot be reached) is
retried by us, 5 s doubling to `max_delay`, one warning line each; a rejected app token is
one error and the adapter stops. Once connected, the SDK's own reconnection runs, its lines
limited to one per kind a minute. The client is closed on the way out whatever happened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient

from bot.chat.cancelling import being_cancelled
from bot.delivery.slack import describe_error
from bot.service.log_limits import OncePerMinute

log = logging.getLogger(__name__)
SDK_LOG = logging.getLogger("bot.chat.slack.socket_sdk")  # the SDK client's own lines
REJECTED_TOKEN = frozenset({"invalid_auth", "not_authed", "not_allowed_token_type"})

Sleep = Callable[[float], Awaitable[None]]


async def serve_socket_mode(
    app: AsyncApp,
    app_token: str | None,
    *,
    started: asyncio.Event | None = None,
    sleep: Sleep = asyncio.sleep,
    max_delay: float = 300.0,
) -> None:
    """Connect (retrying with backoff), then serve until cancelled; always close the client."""
    _limit_sdk_lines()
    handler = AsyncSocketModeHandler(app, app_token, logger=SDK_LOG)
    try:
        await open_with_backoff(handler.client, sleep, max_delay)
        await handler.connect_async()
        log.info("Slack commands over Socket Mode")
        if started is not None:
            started.set()
        await asyncio.Event().wait()  # until the service cancels this task
    finally:
        await handler.close_async()


async def open_with_backoff(
    client: AsyncBaseSocketModeClient, sleep: Sleep, max_delay: float
) -> None:
    """Get the websocket URL (`apps.connections.open`), retrying until Slack answers."""
    delay = 5.0
    while True:
        try:
            client.wss_uri = await client.issue_new_wss_url()
            return
        except SlackApiError as error:
            code = str(error.response.get("error"))
            if code in REJECTED_TOKEN:
                log.error("Slack rejected the app token (%s); Slack commands are not running", code)
                raise
            reason = code
        except Exception as error:  # unreachable, timed out, refused: all worth retrying
            if being_cancelled():  # a cancel the SDK turned into a failure: stop, not retry
                raise asyncio.CancelledError from error
            reason = describe_error(error)
        log.warning("Slack Socket Mode connection failed (%s); retrying in %.0f s", reason, delay)
        await sleep(delay)
        delay = min(delay * 2, max_delay)


def _limit_sdk_lines() -> None:
    if not any(isinstance(f, OncePerMinute) for f in SDK_LOG.filters):
        SDK_LOG.addFilter(OncePerMinute(("Failed to", "The session")))

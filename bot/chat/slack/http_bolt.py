"""Slack HTTP mode's hand-over to bolt: its aiohttp adapter, with the form body parsed right.

Bolt's body parser takes any form body containing the word "payload" for an interactivity
payload (`payload=<JSON>`); a slash command whose text, channel name or team domain holds the
word (`/spread IWM IWB 42d payload`, `#payload-desk`) becomes an empty body, which no
listener matches: 404. Here such a body is parsed again as the plain form it is. Only the
parsed copy changes: bolt still verifies the signature over the untouched raw body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def bolt_handler(app: AsyncApp) -> Handler:
    """The aiohttp handler that dispatches a request to `app`."""

    async def dispatch(request: web.Request) -> web.StreamResponse:
        bolt_request = reparse_form(await to_bolt_request(request))
        return await to_aiohttp_response(await app.async_dispatch(bolt_request))

    return dispatch


def reparse_form(request: AsyncBoltRequest) -> AsyncBoltRequest:
    """`request` with a form body that bolt mistook for an interactivity payload parsed again."""
    raw = request.raw_body
    if request.body or not raw or raw.startswith("{") or request.content_type == "application/json":
        return request
    form = dict(parse_qsl(raw, keep_blank_values=True))
    if "payload" in form:  # a real interactivity payload: bolt parsed it already
        return request
    request.body = form
    request.context = build_async_context(AsyncBoltContext({}), form)
    return request

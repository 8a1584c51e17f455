"""Discord adapter: the only module that imports `discord`.

Posting needs no gateway connection: a bot token plus channel ids goes through discord.py's
REST `HTTPClient`, a webhook URL through `discord.Webhook`. Both are driven from a private
event loop behind a small synchronous facade, so the outbox sender (plain, synchronous
SQLite code) can call them; the service runs the sender in a worker thread.

Exactly-once on the bot path: every post carries `nonce` + `enforce_nonce` (Discord returns
the existing message for a repeated nonce within a few minutes), and after a crash
`find_existing` scans the channel's recent messages for the alert key in the bot's footer.
Webhooks can do neither, so a webhook post interrupted by a crash may appear twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
import discord
from discord.http import HTTPClient, Route, handle_message_parameters

from bot.limits import fit_discord_content, fit_discord_embeds
from bot.notifier import (
    AlertMessage,
    DeliveryError,
    DeliveryResult,
    PermanentError,
    RateLimited,
    TransientError,
)
from bot.safety import mention_user, neutralise_discord

log = logging.getLogger(__name__)

T = TypeVar("T")
CHART_NAME = "chart.png"
LOOKBACK_MESSAGES = 100
NONCE_LENGTH = 25  # Discord's maximum nonce length


def configure_api_base(base: str | None) -> None:
    """Point every discord.py REST call (webhooks included) at `base`, e.g. a proxy or fake."""
    if base:
        Route.BASE = base.rstrip("/")


def discord_nonce(idempotency_key: str) -> str:
    """A stable nonce of at most 25 characters for an alert key."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:NONCE_LENGTH]


def to_discord_embed(message: AlertMessage) -> discord.Embed:
    """The alert as one embed within Discord's limits: colour, fields, date, footer, chart."""
    embed: dict[str, Any] = {
        "type": "rich",
        "title": neutralise_discord(message.headline),
        "color": message.colour,
        "fields": [
            {"name": neutralise_discord(name), "value": neutralise_discord(value), "inline": True}
            for name, value in message.fields
        ]
        + [{"name": "Data date", "value": message.data_date.isoformat(), "inline": True}],
        "footer": {"text": neutralise_discord(message.footer)},
    }
    if message.description:
        embed["description"] = neutralise_discord(message.description)
    if message.chart_png:
        embed["image"] = {"url": f"attachment://{CHART_NAME}"}
    return discord.Embed.from_dict(fit_discord_embeds([embed])[0])


def subscriber_ids(message: AlertMessage) -> list[str]:
    """The message's subscriber ids that are real Discord user ids (others are logged, dropped)."""
    valid = [user_id for user_id in message.mentions if user_id.isdigit()]
    if len(valid) < len(message.mentions):
        log.warning(
            "alert %s: ignored %d malformed Discord user id(s)",
            message.key,
            len(message.mentions) - len(valid),
        )
    return valid


def allowed_mentions(message: AlertMessage) -> discord.AllowedMentions:
    """Nobody may be pinged except the subscribers the message names."""
    users = [discord.Object(int(user_id)) for user_id in subscriber_ids(message)]
    return discord.AllowedMentions(everyone=False, roles=False, replied_user=False, users=users)


def mention_content(message: AlertMessage) -> str | None:
    """Message content: the subscribers' mentions, or None when there are none."""
    users = subscriber_ids(message)
    if not users:
        return None
    return fit_discord_content(" ".join(mention_user(u, "discord") for u in users))


@dataclass
class _Post:
    content: str | None
    embed: discord.Embed
    file: discord.File | None
    allowed_mentions: discord.AllowedMentions


def _build_post(message: AlertMessage) -> _Post:
    chart = discord.File(io.BytesIO(message.chart_png), CHART_NAME) if message.chart_png else None
    return _Post(
        mention_content(message), to_discord_embed(message), chart, allowed_mentions(message)
    )


async def post_channel_message(
    http: HTTPClient, channel_id: str, message: AlertMessage, *, nonce: str
) -> dict[str, Any]:
    """POST the alert to a channel with an enforced nonce; the created (or existing) message."""
    post = _build_post(message)
    chart = post.file if post.file else discord.utils.MISSING
    params = handle_message_parameters(
        content=post.content,
        embed=post.embed,
        file=chart,
        allowed_mentions=post.allowed_mentions,
        nonce=nonce,
    )
    with params:
        return await http.send_message(int(channel_id), params=params)


async def find_channel_message(
    http: HTTPClient, channel_id: str, key: str, *, since: datetime, bot_id: str
) -> dict[str, Any] | None:
    """The bot's message in the channel since `since` whose footer carries the alert key."""
    after = discord.utils.time_snowflake(since)
    messages = await http.logs_from(int(channel_id), LOOKBACK_MESSAGES, after=after)
    for item in messages:
        if str(item.get("author", {}).get("id")) == bot_id and _has_key(item, key):
            return item
    return None


def _has_key(item: dict[str, Any], key: str) -> bool:
    footers = [embed.get("footer", {}).get("text", "") for embed in item.get("embeds", [])]
    return any(text.endswith(f"alert {key}") for text in footers)


class _LoopRunner:
    """A private event loop that runs discord.py coroutines for synchronous callers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def run(self, factory: Callable[[], Awaitable[T]]) -> T:
        """Run one coroutine to completion, translating library errors to DeliveryErrors."""
        try:
            return self.loop.run_until_complete(_call(factory))
        except DeliveryError:
            raise
        except Exception as error:
            raise delivery_error(error) from error

    def close(self) -> None:
        """Stop the loop for good."""
        if not self.loop.is_closed():
            self.loop.close()


async def _call(factory: Callable[[], Awaitable[T]]) -> T:
    return await factory()


class DiscordRest:
    """One logged-in REST client (bot token) shared by the bot's channel notifiers."""

    def __init__(self, token: str, *, api_base: str | None = None) -> None:
        configure_api_base(api_base)
        self._token = token
        self.runner = _LoopRunner()
        # Waits longer than 30 s come back as RateLimited so the outbox schedules the retry.
        self.http = HTTPClient(self.runner.loop, max_ratelimit_timeout=30.0)
        self.bot_id: str | None = None

    async def login(self) -> HTTPClient:
        """Log in on first use (GET /users/@me checks the token) and return the client."""
        if self.bot_id is None:
            me = await self.http.static_login(self._token)
            self.bot_id = str(me["id"])
        return self.http

    def close(self) -> None:
        """Close the HTTP session and the loop."""
        if not self.runner.loop.is_closed():
            self.runner.loop.run_until_complete(self.http.close())
        self.runner.close()


class DiscordBotNotifier:
    """Posts alerts to one channel with the bot token."""

    min_interval = 0.0  # discord.py paces by the X-RateLimit headers itself

    def __init__(self, rest: DiscordRest, channel_id: str) -> None:
        self.rest, self.channel_id = rest, channel_id
        self.name = f"discord:{channel_id}"

    def send(self, message: AlertMessage, *, idempotency_key: str) -> DeliveryResult:
        """Post with a nonce derived from the key; a repeat within minutes returns the original."""
        nonce = discord_nonce(idempotency_key)

        async def post() -> dict[str, Any]:
            http = await self.rest.login()
            return await post_channel_message(http, self.channel_id, message, nonce=nonce)

        data = self.rest.runner.run(post)
        return DeliveryResult(self.name, str(data["id"]))

    def find_existing(self, idempotency_key: str, *, since: datetime) -> DeliveryResult | None:
        """The alert already posted in this channel since `since`, found by its footer key."""

        async def find() -> dict[str, Any] | None:
            http = await self.rest.login()
            bot_id = self.rest.bot_id or ""
            return await find_channel_message(
                http, self.channel_id, idempotency_key, since=since, bot_id=bot_id
            )

        found = self.rest.runner.run(find)
        return DeliveryResult(self.name, str(found["id"]), "found") if found else None


class DiscordWebhookNotifier:
    """Posts alerts through a channel webhook (`?wait=true`, so the message id comes back)."""

    min_interval = 0.0

    def __init__(self, url: str, *, api_base: str | None = None) -> None:
        configure_api_base(api_base)
        self._url = url
        self.runner = _LoopRunner()
        self._session: aiohttp.ClientSession | None = None
        webhook_id = url.rstrip("/").split("/")[-2] if url.count("/") >= 2 else "?"
        self.name = f"discord:webhook:{webhook_id}"

    def send(self, message: AlertMessage, *, idempotency_key: str) -> DeliveryResult:
        """Execute the webhook and wait for the created message."""
        sent = self.runner.run(lambda: self._send(message))
        return DeliveryResult(self.name, str(sent.id))

    async def _send(self, message: AlertMessage) -> discord.WebhookMessage:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        webhook = discord.Webhook.from_url(self._url, session=self._session)
        post = _build_post(message)
        extra: dict[str, Any] = {"file": post.file} if post.file else {}
        return await webhook.send(
            content=post.content or discord.utils.MISSING,
            embed=post.embed,
            allowed_mentions=post.allowed_mentions,
            wait=True,
            **extra,
        )

    def find_existing(self, idempotency_key: str, *, since: datetime) -> DeliveryResult | None:
        """Webhooks cannot list what they posted: an interrupted post is sent again."""
        return None

    def close(self) -> None:
        """Close the HTTP session and the loop."""
        if self._session is not None and not self.runner.loop.is_closed():
            self.runner.loop.run_until_complete(self._session.close())
        self.runner.close()


def delivery_error(error: BaseException) -> DeliveryError:
    """Our error type for a discord.py / aiohttp failure (permanent, transient or 429)."""
    if isinstance(error, discord.RateLimited):
        return RateLimited(f"Discord rate limit: {error}", error.retry_after)
    if isinstance(error, discord.LoginFailure):
        return PermanentError("Discord rejected the bot token (401)")
    if isinstance(error, discord.HTTPException):
        return _http_error(error)
    if isinstance(error, (aiohttp.ClientError, OSError, asyncio.TimeoutError)):
        return TransientError(f"cannot reach Discord: {type(error).__name__}: {error}")
    if isinstance(error, ValueError):  # discord.py refused the payload (e.g. a bad webhook URL)
        return PermanentError(f"Discord payload or URL rejected: {error}")
    return TransientError(f"{type(error).__name__}: {error}")


def _http_error(error: discord.HTTPException) -> DeliveryError:
    detail = f"Discord HTTP {error.status} (code {error.code}): {error.text}"
    if error.status == 429:  # without a `Via` header: Cloudflare, wait longer
        retry_after = float(error.response.headers.get("Retry-After", 60))
        return RateLimited(detail, retry_after)
    if error.status >= 500 or error.status == 408:
        return TransientError(detail)
    return PermanentError(detail)

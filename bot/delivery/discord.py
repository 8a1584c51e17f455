"""Discord alert posting: the outbound half of the Discord adapter (imports `discord`).

Posting needs no gateway connection: a bot token plus channel ids goes through discord.py's
REST `HTTPClient`, a webhook URL through `discord.Webhook`. Both are driven from a private
event loop behind a small synchronous facade, so the outbox sender (plain, synchronous
SQLite code) can call them; the service runs the sender in a worker thread.

Exactly-once on the bot path: every post carries `nonce` + `enforce_nonce` (Discord returns
the existing message for a repeated nonce within a few minutes), and after a crash
`find_existing` scans the channel's recent messages for the alert key in the bot's footer.
Webhooks can do neither, so a webhook post interrupted by a crash may appear twice.

Bot posts (channels and DMs, `discord:dm:<user_id>`) carry the alert buttons as components
(custom ids from `bot.delivery.discord_alert`); the chat side (`bot.chat.discord`) answers
them over the gateway. The payload itself is built in `bot.delivery.discord_alert`, its
discord.py objects (embed, file, buttons) in `bot.delivery.discord_post`, and failures are
mapped to the delivery's errors in `bot.delivery.discord_errors`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import discord
from discord.http import HTTPClient, Route, handle_message_parameters

from bot.config import Settings
from bot.delivery.discord_alert import bot_message_with_key, discord_nonce
from bot.delivery.discord_errors import delivery_error
from bot.delivery.discord_limits import GLOBAL_BUCKET, GLOBAL_INTERVAL, global_limit_trace
from bot.delivery.discord_post import (  # noqa: F401 - the chat side takes the buttons from here
    ack_button,
    alert_view,
    build_post,
    mute_button,
    to_discord_embed,
)
from bot.delivery.message import (
    AlertMessage,
    DeliveryError,
    DeliveryResult,
    Notifier,
)
from bot.platforms import DISCORD
from bot.safety import is_user_id

if TYPE_CHECKING:
    from bot.delivery.ack_copies import AckNote

log = logging.getLogger(__name__)

T = TypeVar("T")
LOOKBACK_MESSAGES = 100  # Discord's largest history page
LOOKUP_MAX_PAGES = 100  # a crash lookup reads at most 10,000 messages, then posts (nonce)
REQUEST_TIMEOUT = 30.0  # seconds per request; the setting ROTATION_REQUEST_TIMEOUT_SECONDS


def configure_api_base(base: str | None) -> None:
    """Point every discord.py REST call (webhooks included) at `base`, e.g. a proxy or fake."""
    if base:
        Route.BASE = base.rstrip("/")


async def post_channel_message(
    http: HTTPClient, channel_id: str, message: AlertMessage, *, nonce: str
) -> dict[str, Any]:
    """POST the alert with its buttons and an enforced nonce; the created (or existing) message."""
    post = build_post(message)
    chart = post.file if post.file else discord.utils.MISSING
    params = handle_message_parameters(
        content=post.content,
        embed=post.embed,
        file=chart,
        allowed_mentions=post.allowed_mentions,
        nonce=nonce,
        view=alert_view(message),
    )
    with params:
        return await http.send_message(int(channel_id), params=params)


async def find_channel_message(
    http: HTTPClient, channel_id: str, key: str, *, since: datetime, bot_id: str
) -> dict[str, Any] | None:
    """The bot's message in the channel since `since` whose footer carries the alert key.

    Pages forward through everything posted since `since`: Discord answers `after=X` with the
    `limit` messages just after X (newest first within the page), so a post preceded by more
    than one page of messages is only on a later page.
    """
    after = discord.utils.time_snowflake(since)
    for _ in range(LOOKUP_MAX_PAGES):
        page = await http.logs_from(int(channel_id), LOOKBACK_MESSAGES, after=after)
        found = bot_message_with_key(page, key, bot_id)
        if found is not None or len(page) < LOOKBACK_MESSAGES:
            return found
        after = max(int(item["id"]) for item in page)
    log.warning(
        "alert %s not found in the first %d messages of channel %s since it was queued",
        key,
        LOOKUP_MAX_PAGES * LOOKBACK_MESSAGES,
        channel_id,
    )
    return None


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


class _BoundedClient(HTTPClient):
    """discord.py's REST client with a total timeout per request (aiohttp's default: 300 s)."""

    request_timeout = REQUEST_TIMEOUT

    async def request(self, route: Route, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", aiohttp.ClientTimeout(total=self.request_timeout))
        return await super().request(route, **kwargs)


class DiscordRest:
    """One logged-in REST client (bot token) shared by the bot's channel notifiers."""

    def __init__(
        self, token: str, *, api_base: str | None = None, timeout: float = REQUEST_TIMEOUT
    ) -> None:
        configure_api_base(api_base)
        self._token, self.timeout = token, timeout
        self.runner = _LoopRunner()
        self.on_global_limit: Callable[[float], None] | None = None
        self.http = self._new_client()
        self.bot_id: str | None = None

    def _new_client(self) -> HTTPClient:
        # Waits longer than 30 s come back as RateLimited so the outbox schedules the retry.
        trace = global_limit_trace(lambda: self.on_global_limit)  # tells the other replicas
        client = _BoundedClient(self.runner.loop, max_ratelimit_timeout=30.0, http_trace=trace)
        client.request_timeout = self.timeout
        return client

    async def login(self) -> HTTPClient:
        """Log in on first use (GET /users/@me checks the token) and return the client."""
        if self.bot_id is None:
            self.bot_id = await self._login()
        return self.http

    async def _login(self) -> str:
        try:
            me = await self.http.static_login(self._token)
        except BaseException:
            # static_login opens a new aiohttp session on every call and keeps it on failure:
            # close it, or each failed login leaks one ("Unclosed client session"). Closing
            # also closes its connector, so the next login starts from a new client.
            await self.http.close()
            self.http = self._new_client()
            raise
        return str(me["id"])

    async def patch_message(self, channel_id: str, message_id: str, body: dict[str, Any]) -> None:
        """Edit a posted message: only the fields in `body` change."""
        route = Route(
            "PATCH", "/channels/{channel_id}/messages/{message_id}",
            channel_id=channel_id, message_id=message_id,
        )  # fmt: skip
        await (await self.login()).request(route, json=body)

    def close(self) -> None:
        """Close the HTTP session and the loop."""
        if not self.runner.loop.is_closed():
            self.runner.loop.run_until_complete(self.http.close())
        self.runner.close()


class DiscordBotNotifier:
    """Posts alerts to one channel with the bot token."""

    min_interval = DISCORD.limits.seconds_per_message  # discord.py paces by X-RateLimit
    pacing_bucket, pacing_interval = GLOBAL_BUCKET, GLOBAL_INTERVAL  # shared by all replicas

    def __init__(self, rest: DiscordRest, channel_id: str) -> None:
        self.rest, self.channel_id = rest, channel_id
        self.name = f"discord:{channel_id}"

    def watch_global_limit(self, held: Callable[[float], None]) -> None:
        """Call `held(seconds)` when Discord answers a global 429 (the token's whole limit)."""
        self.rest.on_global_limit = held

    async def target(self, http: HTTPClient) -> str:
        """The channel id to post into."""
        return self.channel_id

    def prepare(self, message: AlertMessage) -> AlertMessage:
        """The message as this destination posts it."""
        return message

    def send(self, message: AlertMessage, *, idempotency_key: str) -> DeliveryResult:
        """Post with a nonce derived from the key; a repeat within minutes returns the original."""
        nonce = discord_nonce(idempotency_key)

        async def post() -> dict[str, Any]:
            http = await self.rest.login()
            channel = await self.target(http)
            return await post_channel_message(http, channel, self.prepare(message), nonce=nonce)

        data = self.rest.runner.run(post)
        return DeliveryResult(self.name, str(data["id"]))

    def find_existing(self, idempotency_key: str, *, since: datetime) -> DeliveryResult | None:
        """The alert already posted in this channel since `since`, found by its footer key."""

        async def find() -> dict[str, Any] | None:
            http = await self.rest.login()
            bot_id = self.rest.bot_id or ""
            channel = await self.target(http)
            return await find_channel_message(
                http, channel, idempotency_key, since=since, bot_id=bot_id
            )

        found = self.rest.runner.run(find)
        return DeliveryResult(self.name, str(found["id"]), "found") if found else None


class DiscordDmNotifier(DiscordBotNotifier):
    """Sends alerts to one subscriber by direct message (destination `discord:dm:<user_id>`).

    The DM channel comes from `POST /users/@me/channels` (Discord returns the same channel
    every time); the post itself is a channel post, so nonce and lookup work as in a channel.
    """

    def __init__(self, rest: DiscordRest, user_id: str) -> None:
        if not is_user_id(user_id, DISCORD.name):
            raise ValueError(f"not a Discord user id: {user_id[:40]!r}")
        super().__init__(rest, "")
        self.user_id, self.name = user_id, DISCORD.dm_destination(user_id)

    async def target(self, http: HTTPClient) -> str:
        """The DM channel with the user, opened once."""
        if not self.channel_id:
            channel = await http.start_private_message(int(self.user_id))
            self.channel_id = str(channel["id"])
        return self.channel_id

    def prepare(self, message: AlertMessage) -> AlertMessage:
        """No mentions in a DM: the recipient is already the only reader."""
        return message.with_mentions(())


def dm_notifiers(rest: DiscordRest, user_ids: Iterable[str]) -> list[Notifier]:
    """One DM destination per well-formed user id (others are logged and skipped)."""
    notifiers: list[Notifier] = []
    for user_id in dict.fromkeys(user_ids):
        if is_user_id(user_id, DISCORD.name):
            notifiers.append(DiscordDmNotifier(rest, user_id))
        else:
            log.warning("ignored a malformed Discord user id for DMs")
    return notifiers


class DiscordWebhookNotifier:
    """Posts alerts through a channel webhook (`?wait=true`, so the message id comes back)."""

    min_interval = DISCORD.limits.seconds_per_message

    def __init__(
        self, url: str, *, api_base: str | None = None, timeout: float = REQUEST_TIMEOUT
    ) -> None:
        configure_api_base(api_base)
        self._url, self.timeout = url, timeout
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
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        webhook = discord.Webhook.from_url(self._url, session=self._session)
        post = build_post(message)
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


# Built from the settings, for bot.delivery.destinations (through the platform registry)


def build_channel_notifiers(settings: Settings) -> list[Notifier]:
    """The bot's channels and the webhook the settings configure (one shared REST client)."""
    notifiers: list[Notifier] = []
    if settings.discord_bot_token is not None and settings.discord_channel_ids:
        rest = _rest(settings)
        notifiers += [DiscordBotNotifier(rest, c) for c in settings.discord_channel_ids]
    if settings.discord_webhook_url is not None:
        url = settings.discord_webhook_url.get_secret_value()
        notifiers.append(
            DiscordWebhookNotifier(
                url, api_base=settings.discord_api_base, timeout=settings.request_timeout_seconds
            )
        )
    return notifiers


def build_dm_notifiers(
    settings: Settings, user_ids: Iterable[str], notifiers: Iterable[Notifier]
) -> list[Notifier]:
    """DM notifiers sharing the channel notifiers' REST client (one login, one session)."""
    rest = next((n.rest for n in notifiers if isinstance(n, DiscordBotNotifier)), None)
    return dm_notifiers(rest or _rest(settings), user_ids)


def _rest(settings: Settings) -> DiscordRest:
    assert settings.discord_bot_token is not None
    token = settings.discord_bot_token.get_secret_value()
    return DiscordRest(
        token, api_base=settings.discord_api_base, timeout=settings.request_timeout_seconds
    )


def build_route_notifiers(
    settings: Settings, channel_ids: Iterable[str], notifiers: Iterable[Notifier]
) -> list[Notifier]:
    """Channels named by routes, posted to as the bot through the shared REST client."""
    rest = next((n.rest for n in notifiers if isinstance(n, DiscordBotNotifier)), None)
    rest = rest or _rest(settings)
    return [DiscordBotNotifier(rest, channel_id) for channel_id in dict.fromkeys(channel_ids)]


def show_acknowledged(settings: Settings, destination: str, message_id: str, note: AckNote) -> None:
    """Show an acknowledgement made elsewhere on a posted alert (`bot.delivery.discord_ack`)."""
    from bot.delivery.discord_ack import edit_acknowledged  # its own module: this one is full

    edit_acknowledged(settings, destination, message_id, note)

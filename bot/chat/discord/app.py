"""Discord adapter: the only module that imports `discord`.

Posting needs no gateway connection: a bot token plus channel ids goes through discord.py's
REST `HTTPClient`, a webhook URL through `discord.Webhook`. Both are driven from a private
event loop behind a small synchronous facade, so the outbox sender (plain, synchronous
SQLite code) can call them; the service runs the sender in a worker thread.

Exactly-once on the bot path: every post carries `nonce` + `enforce_nonce` (Discord returns
the existing message for a repeated nonce within a few minutes), and after a crash
`find_existing` scans the channel's recent messages for the alert key in the bot's footer.
Webhooks can do neither, so a webhook post interrupted by a crash may appear twice.

Bot posts (channels and DMs, `discord:dm:<user_id>`) carry the alert buttons as components;
`RotationClient` answers them and the slash commands over the gateway (`run_discord`).
Commands call the platform-neutral core (`bot.chat.core.Commands`) in a worker thread and
format with `bot.chat.discord.format`; this module only adapts to discord.py.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

import aiohttp
import discord
from discord import app_commands
from discord.app_commands import AppCommandError, Choice
from discord.http import HTTPClient, Route, handle_message_parameters

from bot.chat import parsing
from bot.chat.discord.format import (
    ACK_PREFIX,
    ACK_TEMPLATE,
    CHART_NAME,
    MUTE_TEMPLATE,
    Payload,
    ack_custom_id,
    acknowledged_embed,
    alert_embed,
    describe,
    discord_nonce,
    format_reply,
    key_from_footer,
    mention_content,
    mute_custom_id,
    window_choices,
)
from bot.chat.on_call import make_actor
from bot.chat.parsing import GENERIC_ERROR, WINDOW_HELP, CommandError
from bot.chat.replies import Actor, Reply
from bot.chat.reply_chart import render_reply_chart
from bot.config import Settings
from bot.delivery.limits import fit_discord_content
from bot.delivery.message import (
    AlertMessage,
    DeliveryError,
    DeliveryResult,
    Notifier,
    PermanentError,
    RateLimited,
    TransientError,
    subscriber_ids,
)
from bot.safety import is_user_id, neutralise_discord, sanitize

if TYPE_CHECKING:
    from bot.chat.core import Commands

log = logging.getLogger(__name__)

T = TypeVar("T")
Interaction = discord.Interaction[Any]
LOOKBACK_MESSAGES = 100  # Discord's largest history page
LOOKUP_MAX_PAGES = 100  # a crash lookup reads at most 10,000 messages, then posts (nonce)
DM_PREFIX = "discord:dm:"
NO_MENTIONS = discord.AllowedMentions.none()


def configure_api_base(base: str | None) -> None:
    """Point every discord.py REST call (webhooks included) at `base`, e.g. a proxy or fake."""
    if base:
        Route.BASE = base.rstrip("/")


def to_discord_embed(message: AlertMessage) -> discord.Embed:
    """The alert as one embed within Discord's limits: colour, fields, date, footer, chart."""
    return discord.Embed.from_dict(alert_embed(message))


def allowed_mentions(message: AlertMessage) -> discord.AllowedMentions:
    """Nobody may be pinged except the subscribers the message names."""
    users = [discord.Object(int(user_id)) for user_id in subscriber_ids(message, "discord")]
    return discord.AllowedMentions(everyone=False, roles=False, replied_user=False, users=users)


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
    """POST the alert with its buttons and an enforced nonce; the created (or existing) message."""
    post = _build_post(message)
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
        found = _bot_message_with_key(page, key, bot_id)
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


def _bot_message_with_key(
    page: list[dict[str, Any]], key: str, bot_id: str
) -> dict[str, Any] | None:
    for item in page:
        if str(item.get("author", {}).get("id")) == bot_id and _has_key(item, key):
            return item
    return None


def _has_key(item: dict[str, Any], key: str) -> bool:
    return key_from_footer(item.get("embeds", [])) == key


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
        self.http = self._new_client()
        self.bot_id: str | None = None

    def _new_client(self) -> HTTPClient:
        # Waits longer than 30 s come back as RateLimited so the outbox schedules the retry.
        return HTTPClient(self.runner.loop, max_ratelimit_timeout=30.0)

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
        if not is_user_id(user_id, "discord"):
            raise ValueError(f"not a Discord user id: {user_id[:40]!r}")
        super().__init__(rest, "")
        self.user_id, self.name = user_id, f"{DM_PREFIX}{user_id}"

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
        if is_user_id(user_id, "discord"):
            notifiers.append(DiscordDmNotifier(rest, user_id))
        else:
            log.warning("ignored a malformed Discord user id for DMs")
    return notifiers


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


# Alert buttons: dynamic custom ids, so a restarted bot still answers old alerts.


class AckButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=ACK_TEMPLATE):
    """Acknowledge: records who and when, then edits the alert to show it."""

    def __init__(self, key: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Acknowledge", style=discord.ButtonStyle.primary, custom_id=ack_custom_id(key)
            )
        )
        self.key = key

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AckButton:
        """Rebuild the button from a pressed custom id."""
        return cls(match["key"])

    async def callback(self, interaction: Interaction) -> None:
        """Record the acknowledgement and edit the alert (or say who was first)."""
        await guarded(interaction, acknowledge_alert(interaction, self.key))


class MuteButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=MUTE_TEMPLATE):
    """Mute 1 day: admins only; anyone else gets a private refusal."""

    def __init__(self, rule_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Mute 1 day",
                style=discord.ButtonStyle.secondary,
                custom_id=mute_custom_id(rule_id),
            )
        )
        self.rule_id = rule_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> MuteButton:
        """Rebuild the button from a pressed custom id."""
        return cls(match["rule"])

    async def callback(self, interaction: Interaction) -> None:
        """Mute the rule for a day through the command core."""
        await guarded(interaction, mute_from_alert(interaction, self.rule_id))


def alert_view(message: AlertMessage) -> discord.ui.View:
    """The alert's buttons: Acknowledge (fired alerts only) and Mute 1 day."""
    view = discord.ui.View(timeout=None)
    if message.kind == "fired":
        view.add_item(AckButton(message.key))
    view.add_item(MuteButton(message.rule_id))
    return view


async def acknowledge_alert(interaction: Interaction, key: str) -> None:
    """Defer the update, record the ack, edit the alert; a later presser is told privately."""
    await interaction.response.defer()
    embeds = [e.to_dict() for e in interaction.message.embeds] if interaction.message else []
    key = key or key_from_footer(embeds)  # type: ignore[arg-type]
    core = core_of(interaction)
    reply = await asyncio.to_thread(core.acknowledge, actor_of(interaction), key)
    if not reply.first or not embeds:
        await send_private(interaction, sanitize(reply, "discord").text)
        return
    who = neutralise_discord(interaction.user.display_name)
    embeds[0] = acknowledged_embed(embeds[0], who, reply.acked_at)  # type: ignore[arg-type]
    await interaction.edit_original_response(
        embeds=[discord.Embed.from_dict(e) for e in embeds],  # type: ignore[arg-type]
        view=acknowledged_view(interaction.message),
        allowed_mentions=NO_MENTIONS,
    )


def acknowledged_view(message: discord.Message | None) -> discord.ui.View | None:
    """The alert's buttons with Acknowledge disabled and relabelled."""
    if message is None:
        return None
    view = discord.ui.View.from_message(message, timeout=None)
    for item in view.children:
        if isinstance(item, discord.ui.Button) and (item.custom_id or "").startswith(ACK_PREFIX):
            item.disabled, item.label = True, "Acknowledged"
    return view


async def mute_from_alert(interaction: Interaction, rule_id: str) -> None:
    """Mute for one day (admins); the result is public, a refusal private."""
    await interaction.response.defer()
    core = core_of(interaction)
    reply = await asyncio.to_thread(core.mute, actor_of(interaction), rule_id, "1d")
    who = neutralise_discord(interaction.user.display_name)
    text = f"{sanitize(reply, 'discord').text.rstrip('.')}, by {who}."
    await interaction.followup.send(text, allowed_mentions=NO_MENTIONS)


# Slash commands


class Ticker(app_commands.Transformer):
    """A symbol normalised and checked by `bot.chat.parsing.parse_symbol`; cached ones offered."""

    async def transform(self, interaction: Interaction, value: Any, /) -> str:
        """The upper-case ticker, or a CommandError the tree answers privately."""
        return parsing.parse_symbol(str(value))

    async def autocomplete(self, interaction: Interaction, value: Any, /) -> list[Choice[str]]:
        """Cached symbols starting with what was typed."""
        found = await asyncio.to_thread(core_of(interaction).symbol_choices, str(value))
        return [Choice(name=s, value=s) for s in found]


class Window(app_commands.Transformer):
    """A window name checked by `bot.chat.parsing.parse_window`; the fixed windows offered."""

    async def transform(self, interaction: Interaction, value: Any, /) -> str:
        """The normalised window."""
        return parsing.parse_window(str(value))

    async def autocomplete(self, interaction: Interaction, value: Any, /) -> list[Choice[str]]:
        """Fixed windows starting with what was typed, plus the typed text if it is valid."""
        return [Choice(name=w, value=w) for w in window_choices(str(value))]


async def rule_autocomplete(interaction: Interaction, current: str) -> list[Choice[str]]:
    """Rule ids containing what was typed."""
    found = await asyncio.to_thread(core_of(interaction).rule_choices, current)
    return [Choice(name=r, value=r) for r in found]


async def rule_or_all_autocomplete(interaction: Interaction, current: str) -> list[Choice[str]]:
    """`all` and the rule ids containing what was typed."""
    found = await rule_autocomplete(interaction, current)
    wanted = current.strip().lower()
    every = [Choice(name=parsing.ALL, value=parsing.ALL)] if wanted in parsing.ALL else []
    return (every + found)[:25]


TickerArg = app_commands.Transform[str, Ticker]
WindowArg = app_commands.Transform[str, Window]
RULE_HELP = "Signal id (see /signals)"


@app_commands.command(name="spread", description=describe("spread"))
@app_commands.describe(a="First symbol, e.g. IWC", b="Second symbol, e.g. OEF", window=WINDOW_HELP)
async def spread_command(
    interaction: Interaction, a: TickerArg, b: TickerArg, window: WindowArg | None = None
) -> None:
    """A's return minus B's over a window, with a chart."""
    core = core_of(interaction)

    def work() -> Answer:
        reply = core.spread(a, b, window)
        title = f"{reply.a.symbol} vs {reply.b.symbol} ({reply.window})"
        return reply, render_reply_chart(core.db, reply.chart, title)

    await answer(interaction, work, defer=True)


@app_commands.command(name="signals", description=describe("signals"))
async def signals_command(interaction: Interaction) -> None:
    """Every rule's state."""
    await answer(interaction, plain(core_of(interaction).signals), defer=True)


@app_commands.command(name="signal", description=describe("signal"))
@app_commands.rename(rule="id")
@app_commands.describe(rule=RULE_HELP)
@app_commands.autocomplete(rule=rule_autocomplete)
async def signal_command(interaction: Interaction, rule: str) -> None:
    """One rule in detail, with its chart."""
    core, actor = core_of(interaction), actor_of(interaction)

    def work() -> Answer:
        detail = core.signal(rule, actor)
        return detail, render_reply_chart(core.db, detail.chart, detail.row.title)

    await answer(interaction, work, defer=True)


@app_commands.command(name="subscribe", description=describe("subscribe"))
@app_commands.rename(rule="id")
@app_commands.describe(rule="Signal id, or all", mode="mention in the channel (default) or dm")
@app_commands.autocomplete(rule=rule_or_all_autocomplete)
async def subscribe_command(
    interaction: Interaction, rule: str, mode: Literal["mention", "dm"] = "mention"
) -> None:
    """Subscribe the caller."""
    core, actor = core_of(interaction), actor_of(interaction)
    await answer(interaction, plain(core.subscribe, actor, rule, mode), ephemeral=True)


@app_commands.command(name="unsubscribe", description=describe("unsubscribe"))
@app_commands.rename(rule="id")
@app_commands.describe(rule="Signal id, or all")
@app_commands.autocomplete(rule=rule_or_all_autocomplete)
async def unsubscribe_command(interaction: Interaction, rule: str) -> None:
    """Unsubscribe the caller."""
    core, actor = core_of(interaction), actor_of(interaction)
    await answer(interaction, plain(core.unsubscribe, actor, rule), ephemeral=True)


@app_commands.command(name="subscriptions", description=describe("subscriptions"))
async def subscriptions_command(interaction: Interaction) -> None:
    """The caller's subscriptions, privately."""
    core, actor = core_of(interaction), actor_of(interaction)
    await answer(interaction, plain(core.subscriptions, actor), ephemeral=True)


@app_commands.command(name="mute", description=describe("mute"))
@app_commands.rename(rule="id")
@app_commands.describe(rule="Signal id, or all", duration="30m, 4h, 1d, 2w ... (up to 90d)")
@app_commands.autocomplete(rule=rule_or_all_autocomplete)
async def mute_command(interaction: Interaction, rule: str, duration: str) -> None:
    """Silence a rule (admins)."""
    core, actor = core_of(interaction), actor_of(interaction)
    await answer(interaction, plain(core.mute, actor, rule, duration))


@app_commands.command(name="unmute", description=describe("unmute"))
@app_commands.rename(rule="id")
@app_commands.describe(rule="Signal id, or all")
@app_commands.autocomplete(rule=rule_or_all_autocomplete)
async def unmute_command(interaction: Interaction, rule: str) -> None:
    """Lift a mute (admins)."""
    core, actor = core_of(interaction), actor_of(interaction)
    await answer(interaction, plain(core.unmute, actor, rule))


@app_commands.command(name="status", description=describe("status"))
async def status_command(interaction: Interaction) -> None:
    """Data freshness, last evaluation, outbox backlog."""
    await answer(interaction, plain(core_of(interaction).status), defer=True)


@app_commands.command(name="help", description=describe("help"))
async def help_command(interaction: Interaction) -> None:
    """Every command, privately."""
    await answer(interaction, plain(core_of(interaction).help), ephemeral=True)


SLASH_COMMANDS = (
    spread_command,
    signals_command,
    signal_command,
    subscribe_command,
    unsubscribe_command,
    subscriptions_command,
    mute_command,
    unmute_command,
    status_command,
    help_command,
)


# Answering: core call in a thread, then one response (or defer + follow-up); errors private.

Answer = tuple[Reply, "bytes | None"]


def plain(method: Callable[..., Reply], *args: Any) -> Callable[[], Answer]:
    """A blocking core call without a chart."""
    return lambda: (method(*args), None)


async def answer(
    interaction: Interaction,
    work: Callable[[], Answer],
    *,
    defer: bool = False,
    ephemeral: bool = False,
) -> None:
    """Defer if asked, run `work` in a thread, then reply (CommandError: one private line)."""
    if defer:
        interaction.extras["public_defer"] = not ephemeral
        await interaction.response.defer(thinking=True, ephemeral=ephemeral)
    try:
        reply, png = await asyncio.to_thread(work)
    except CommandError as error:
        await send_private(interaction, error.message)
        return
    payload = format_reply(sanitize(reply, "discord"), chart=png is not None)
    await send_payload(interaction, payload, png, ephemeral=ephemeral)


async def send_payload(
    interaction: Interaction, payload: Payload, png: bytes | None, *, ephemeral: bool
) -> None:
    """The reply as the interaction response, or as the follow-up after a defer."""
    kwargs: dict[str, Any] = {"ephemeral": ephemeral, "allowed_mentions": NO_MENTIONS}
    if payload["content"]:
        kwargs["content"] = payload["content"]
    if payload["embeds"]:
        kwargs["embeds"] = [discord.Embed.from_dict(e) for e in payload["embeds"]]
    if png is not None:
        kwargs["file"] = discord.File(io.BytesIO(png), CHART_NAME)
    if interaction.response.is_done():
        await interaction.followup.send(**kwargs)
    else:
        await interaction.response.send_message(**kwargs)


async def send_private(interaction: Interaction, text: str) -> None:
    """One ephemeral line; after a public defer the "thinking" message is removed first."""
    content = fit_discord_content(neutralise_discord(parsing.one_line(text)))
    if not interaction.response.is_done():
        await interaction.response.send_message(
            content, ephemeral=True, allowed_mentions=NO_MENTIONS
        )
        return
    if interaction.extras.pop("public_defer", False):
        # The first follow-up inherits a public defer's visibility: delete it to stay private.
        await interaction.delete_original_response()
    await interaction.followup.send(content, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def guarded(interaction: Interaction, work: Awaitable[None]) -> None:
    """Run a button handler: a CommandError answers privately, anything else is logged."""
    try:
        await work
    except CommandError as error:
        await _safely(send_private(interaction, error.message))
    except Exception:
        log.exception("button %s failed", _custom_id(interaction))
        await _safely(send_private(interaction, GENERIC_ERROR))


async def _safely(reply: Awaitable[None]) -> None:
    try:
        await reply
    except discord.HTTPException as error:
        log.warning("could not send an error reply: %s", error)


def _custom_id(interaction: Interaction) -> str:
    data = interaction.data or {}
    return str(data.get("custom_id", "?"))[:40]


class RotationTree(app_commands.CommandTree["RotationClient"]):
    """The command tree: any failure becomes one private line, never a crash."""

    async def on_error(self, interaction: Interaction, error: AppCommandError, /) -> None:
        """CommandError (also from a Transformer): its line; anything else: logged, generic."""
        cause = _command_error(error)
        if cause is None:
            name = interaction.command.name if interaction.command else "?"
            log.error("command /%s failed", name, exc_info=error)
        await _safely(send_private(interaction, cause.message if cause else GENERIC_ERROR))


def _command_error(error: BaseException) -> CommandError | None:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, CommandError):
            return seen
        seen = seen.__cause__ or getattr(seen, "original", None)
    return None


class RotationClient(discord.Client):
    """The command bot: slash commands and alert buttons, over the shared command core.

    No privileged intents: interactions arrive without any. Commands are synced globally in
    `setup_hook` (pass `sync=False` to skip, e.g. when another instance already did).
    """

    def __init__(self, core: Commands, settings: Settings, *, sync: bool = True) -> None:
        super().__init__(intents=discord.Intents(guilds=True), allowed_mentions=NO_MENTIONS)
        self.core, self.settings, self.sync_commands = core, settings, sync
        self.tree = RotationTree(self)
        for command in SLASH_COMMANDS:
            self.tree.add_command(command)

    async def setup_hook(self) -> None:
        """Register the alert buttons and sync the slash commands."""
        self.add_dynamic_items(AckButton, MuteButton)
        if not self.sync_commands:
            return
        try:
            synced = await self.tree.sync()
        except discord.HTTPException as error:  # commands synced earlier keep working
            log.error("syncing Discord commands failed: %s", delivery_error(error).reason)
            return
        log.info("synced %d Discord commands", len(synced))


def core_of(interaction: Interaction) -> Commands:
    """The command core of the client that received the interaction."""
    return cast(RotationClient, interaction.client).core


def actor_of(interaction: Interaction) -> Actor:
    """Who pressed or typed: user id and, in a guild, role ids (for the admin check)."""
    client = cast(RotationClient, interaction.client)
    # Member._roles holds the interaction's role ids even when the guild is not cached;
    # discord.py's own app_commands.checks.has_role reads it the same way.
    roles = [str(role) for role in getattr(interaction.user, "_roles", ())]
    return make_actor(client.settings, "discord", str(interaction.user.id), roles)


async def run_discord(
    settings: Settings,
    core: Commands,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    max_delay: float = 300.0,
) -> None:
    """Log in, sync commands once and serve interactions until cancelled (the service's task).

    A lost or unreachable gateway is retried with backoff (discord.py itself gives up when the
    very first connection fails); a rejected token is logged and raised.
    """
    if settings.discord_bot_token is None:
        raise ValueError("DISCORD_BOT_TOKEN is not set")
    token = settings.discord_bot_token.get_secret_value()
    configure_api_base(settings.discord_api_base)
    delay, synced = 5.0, False
    while True:
        try:
            async with RotationClient(core, settings, sync=not synced) as client:
                await client.login(token)
                synced = True
                await client.connect(reconnect=True)
            return
        except discord.LoginFailure:
            log.error("Discord rejected the bot token; the Discord bot is not running")
            raise
        except Exception as error:
            reason = delivery_error(error).reason
            log.warning("Discord gateway failed (%s); reconnecting in %.0f s", reason, delay)
        await sleep(delay)
        delay = min(delay * 2, max_delay)

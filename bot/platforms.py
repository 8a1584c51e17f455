"""The chat platforms: one frozen entry each, the only place that lists them.

An entry holds what every room needs to know about a platform without importing its SDK:
its id syntax (users, channels), its DM destination (`<name>:dm:<user id>`), message limits,
mention syntax and how text is neutralised, who is an admin, and where its code lives
(`delivery_module` posts alerts; `chat_runner` serves commands, loaded only when wanted).
Adding a platform means one entry here, one delivery module and one chat package.

Neutralising, Discord: a zero-width space goes after `@` in `@everyone`/`@here` and after `<`
in `<@…>`, `<@!…>`, `<@&…>`, `<#…>`, `</…>`, so the client no longer parses them (the same
trick as `discord.utils.escape_mentions`, but wider); adapters still set `allowed_mentions`.
Slack: `&`, `<`, `>` become `&amp;`, `&lt;`, `&gt;` (Slack's own escaping), which disarms every
`<!everyone>`, `<!here>`, `<!channel>`, `<@U…>` and `<!subteam^…>`; bare `@here`, `@channel`
and `@everyone` also get a zero-width space in case `link_names` is on.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.config import Settings

PlatformName = str  # an entry's `name`: destination prefix and the value stored in SQLite

ZWSP = "\u200b"

# Broad on purpose: case-insensitive and without requiring a well-formed id, because
# anything that starts like a mention is cheaper to disarm than to reason about.
_DISCORD_AT = re.compile(r"@(?=everyone|here)", re.IGNORECASE)
_DISCORD_ANGLE = re.compile(r"<(?=[@#/]|id:)", re.IGNORECASE)
_SLACK_AT = re.compile(r"@(?=everyone|here|channel)", re.IGNORECASE)

# Detectors for what each client would render as a mention; used by tests and `assert_safe`.
DISCORD_MENTION = re.compile(r"@(?:everyone|here)|<@[!&]?\d+>|<#\d+>|<id:\w+>", re.IGNORECASE)
SLACK_MENTION = re.compile(r"<[!@#][^>]*>|@(?:everyone|here|channel)", re.IGNORECASE)


def neutralise_discord(text: str) -> str:
    """Text that Discord shows as written but never parses as a mention."""
    text = _DISCORD_AT.sub("@" + ZWSP, text)
    return _DISCORD_ANGLE.sub("<" + ZWSP, text)


def escape_slack(text: str) -> str:
    """Slack-escaped text (`&`, `<`, `>`) with bare broadcast words disarmed; apply once."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SLACK_AT.sub("@" + ZWSP, text)


@dataclass(frozen=True)
class MessageLimits:
    """What one message may hold and how often a destination may be posted to."""

    text: int  # characters of a message's plain text (Discord content, Slack fallback text)
    seconds_per_message: float  # pause the sender keeps between two posts to one destination


@dataclass(frozen=True)
class Platform:
    """Everything the rooms need to know about one chat platform."""

    name: PlatformName
    title: str  # for people: "Discord"
    user_id: re.Pattern[str]  # a well-formed user id: the only ids a mention or DM may use
    channel_id: re.Pattern[str]
    mention_template: str  # the one legitimate ping, from a well-formed user id
    mention_pattern: re.Pattern[str]  # what the client would render as a mention
    neutralise: Callable[[str], str]  # text shown as written, never parsed as a mention
    limits: MessageLimits
    admin_ids: Callable[[Settings], Sequence[str]]  # user and role ids that are admins
    can_dm: Callable[[Settings], bool]  # a bot identity that can open DMs is configured
    posting_enabled: Callable[[Settings], bool]  # some alert destination is configured
    chat_wanted: Callable[[Settings], bool]  # the settings ask for commands and buttons
    delivery_module: str  # exports build_channel_notifiers(settings), build_dm_notifiers(...)
    chat_runner: str  # "module:function" coroutine serving commands until cancelled
    chat_check: str | None = None  # "module:function" listing config errors for commands
    # Routing (`destinations` of rules, routes, digest): which channel ids a rules file may
    # name (None: `channel_id`), how to describe them, and whether the settings can post there.
    route_channel_id: re.Pattern[str] | None = None
    route_channel_hint: str = "a channel id"
    can_route: Callable[[Settings], bool] = lambda settings: False
    route_setting: str = ""  # what to configure so that `can_route` holds
    # The chat runner may run once per bot only (a gateway session): on the leader replica.
    chat_leader_only: Callable[[Settings], bool] = lambda settings: False

    @property
    def dm_prefix(self) -> str:
        """`discord:dm:`: the start of every DM destination of this platform."""
        return f"{self.name}:dm:"

    def dm_destination(self, user_id: str) -> str:
        """The outbox destination of a DM to `user_id`."""
        return self.dm_prefix + user_id

    def is_user_id(self, user_id: str) -> bool:
        """True for a well-formed user id of this platform."""
        return self.user_id.match(user_id) is not None

    def mention(self, user_id: str) -> str:
        """The ping for a well-formed user id; ValueError for anything else."""
        if not self.is_user_id(user_id):
            raise ValueError(f"not a {self.name} user id: {user_id[:40]!r}")
        return self.mention_template.format(user_id=user_id)

    def is_route_channel(self, channel_id: str) -> bool:
        """True for a channel id a rules file may route alerts to."""
        return (self.route_channel_id or self.channel_id).match(channel_id) is not None

    def is_admin(self, settings: Settings, ids: Sequence[str]) -> bool:
        """True when a user id or one of their role ids is configured as admin."""
        return bool(set(ids) & set(self.admin_ids(settings)))


def _slack_commands_wanted(settings: Settings) -> bool:
    # A bot token alone only posts alerts; an app token, a signing secret or HTTP mode ask
    # for commands (then `check_slack_settings` says what else is missing).
    return (
        settings.slack_app_token is not None
        or settings.slack_signing_secret is not None
        or settings.slack_mode == "http"
    )


DISCORD = Platform(
    name="discord",
    title="Discord",
    user_id=re.compile(r"^\d{1,25}$"),
    channel_id=re.compile(r"^\d{1,25}$"),
    mention_template="<@{user_id}>",
    mention_pattern=DISCORD_MENTION,
    neutralise=neutralise_discord,
    limits=MessageLimits(text=2000, seconds_per_message=0.0),  # discord.py paces by headers
    admin_ids=attrgetter("discord_admin_ids"),
    can_dm=lambda settings: settings.discord_bot_token is not None,
    posting_enabled=attrgetter("discord_enabled"),
    # HTTP mode without a token would start and serve nothing: wanted, so its check refuses it.
    chat_wanted=lambda settings: (
        settings.discord_bot_token is not None or settings.discord_mode == "http"
    ),
    delivery_module="bot.delivery.discord",
    chat_runner="bot.chat.discord.client:run_discord",
    chat_check="bot.chat.discord.http_guard:check_discord_settings",
    route_channel_hint="a channel snowflake (digits only)",
    can_route=lambda settings: settings.discord_bot_token is not None,
    route_setting="DISCORD_BOT_TOKEN (webhooks post to one channel only)",
    chat_leader_only=lambda settings: settings.discord_mode == "gateway",
)

SLACK = Platform(
    name="slack",
    title="Slack",
    user_id=re.compile(r"^[UW][A-Z0-9]{2,30}$"),
    channel_id=re.compile(r"^[CGD][A-Z0-9]{6,}$"),
    mention_template="<@{user_id}>",
    mention_pattern=SLACK_MENTION,
    neutralise=escape_slack,
    limits=MessageLimits(text=4000, seconds_per_message=1.0),  # chat.postMessage: ~1/s
    admin_ids=attrgetter("slack_admin_ids"),
    can_dm=lambda s: s.slack_bot_token is not None and s.slack_channel is not None,
    posting_enabled=attrgetter("slack_enabled"),
    chat_wanted=_slack_commands_wanted,
    delivery_module="bot.delivery.slack",
    chat_runner="bot.chat.slack.app:run_slack",
    chat_check="bot.chat.slack.answers:check_slack_settings",
    route_channel_id=re.compile(r"^[CG][A-Z0-9]{6,}$"),  # public (C) or private (G) channels
    route_channel_hint="a channel id like C0123456789 (C or G, then capitals and digits)",
    can_route=lambda settings: settings.slack_bot_token is not None,
    route_setting="SLACK_BOT_TOKEN (a webhook posts to one channel only)",
)

REGISTRY: dict[PlatformName, Platform] = {entry.name: entry for entry in (DISCORD, SLACK)}


def all_platforms() -> tuple[Platform, ...]:
    """Every registered platform, in registration order."""
    return tuple(REGISTRY.values())


def platform_names() -> tuple[PlatformName, ...]:
    """The names of every registered platform."""
    return tuple(REGISTRY)


def platform_named(name: str) -> Platform:
    """The entry called `name`; ValueError for a platform nobody registered."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown platform: {name[:40]!r}") from None


def platform_of(destination: str) -> Platform | None:
    """The platform of a chat destination (`<name>:<channel>`, webhook or DM); None otherwise."""
    name, colon, _ = destination.partition(":")
    return REGISTRY.get(name) if colon else None


def is_dm(destination: str) -> bool:
    """True for a direct-message destination (`<platform>:dm:<user id>`)."""
    return platform_of(destination) is not None and destination.split(":")[1] == "dm"


def dm_user_id(destination: str) -> str | None:
    """The user id a DM destination names; None for any other destination."""
    platform = platform_of(destination)
    if platform is None or not is_dm(destination):
        return None
    return destination.removeprefix(platform.dm_prefix)


def load_ref(ref: str) -> Any:
    """The object a `module:attribute` reference names, importing its module on first use.

    Entries name their code this way so that the registry imports no SDK and no room: a
    platform's modules load only when the settings use it.
    """
    module, _, attribute = ref.partition(":")
    return getattr(importlib.import_module(module), attribute)

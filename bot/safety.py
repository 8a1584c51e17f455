"""Neutralise chat mentions in text that came from users, rules or data.

Pure functions, no chat SDKs. Adapters pass every string they did not write themselves
through `neutralise(text, platform)` (or a whole reply through `sanitize`) before formatting,
and build the only legitimate pings, subscriber mentions, with `mention_user`.

Discord: a zero-width space goes after `@` in `@everyone`/`@here` and after `<` in `<@…>`,
`<@!…>`, `<@&…>`, `<#…>`, `</…>`, so the client no longer parses them (the same trick as
`discord.utils.escape_mentions`, but wider). Adapters should still set `allowed_mentions`.
Slack: `&`, `<`, `>` become `&amp;`, `&lt;`, `&gt;` (Slack's own escaping), which disarms every
`<!everyone>`, `<!here>`, `<!channel>`, `<@U…>` and `<!subteam^…>`; bare `@here`,
`@channel` and `@everyone` also get a zero-width space in case `link_names` is on.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

Platform = Literal["discord", "slack"]
PLATFORMS: tuple[Platform, ...] = ("discord", "slack")

ZWSP = "\u200b"

# Broad on purpose: case-insensitive and without requiring a well-formed id, because
# anything that starts like a mention is cheaper to disarm than to reason about.
_DISCORD_AT = re.compile(r"@(?=everyone|here)", re.IGNORECASE)
_DISCORD_ANGLE = re.compile(r"<(?=[@#/]|id:)", re.IGNORECASE)
_SLACK_AT = re.compile(r"@(?=everyone|here|channel)", re.IGNORECASE)

# Detectors for what each client would render as a mention; used by tests and `assert_safe`.
DISCORD_MENTION = re.compile(r"@(?:everyone|here)|<@[!&]?\d+>|<#\d+>|<id:\w+>", re.IGNORECASE)
SLACK_MENTION = re.compile(r"<[!@#][^>]*>|@(?:everyone|here|channel)", re.IGNORECASE)

_DISCORD_ID = re.compile(r"^\d{1,25}$")
_SLACK_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")

T = TypeVar("T")


def neutralise_discord(text: str) -> str:
    """Text that Discord shows as written but never parses as a mention."""
    text = _DISCORD_AT.sub("@" + ZWSP, text)
    return _DISCORD_ANGLE.sub("<" + ZWSP, text)


def escape_slack(text: str) -> str:
    """Slack-escaped text (`&`, `<`, `>`) with bare broadcast words disarmed; apply once."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SLACK_AT.sub("@" + ZWSP, text)


def neutralise(text: str, platform: Platform) -> str:
    """Make `text` mention-free for `platform`."""
    if platform == "discord":
        return neutralise_discord(text)
    if platform == "slack":
        return escape_slack(text)
    raise ValueError(f"unknown platform: {platform!r}")


def find_mentions(text: str, platform: Platform) -> list[str]:
    """Every substring of `text` the platform would parse as a mention."""
    pattern = DISCORD_MENTION if platform == "discord" else SLACK_MENTION
    return [match.group(0) for match in pattern.finditer(text)]


def assert_safe(text: str, platform: Platform) -> str:
    """Return `text` unchanged, or raise ValueError if it still holds a mention."""
    found = find_mentions(text, platform)
    if found:
        raise ValueError(f"unescaped mention in outgoing text: {found[0]!r}")
    return text


def sanitize(value: T, platform: Platform) -> T:
    """A copy of a reply (dataclasses, tuples, lists, dicts, strings) with every string neutralised.

    Non-string leaves (numbers, dates, None) are returned as they are.
    """
    return _sanitize(value, platform)


def _sanitize(value: Any, platform: Platform) -> Any:
    if isinstance(value, str):
        return neutralise(value, platform)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: _sanitize(getattr(value, f.name), platform)
            for f in dataclasses.fields(value)
            if f.init
        }
        return dataclasses.replace(value, **changes)
    if isinstance(value, tuple):
        return tuple(_sanitize(item, platform) for item in value)
    if isinstance(value, list):
        return [_sanitize(item, platform) for item in value]
    if isinstance(value, Mapping):
        return {_sanitize(k, platform): _sanitize(v, platform) for k, v in value.items()}
    return value


def is_user_id(user_id: str, platform: Platform) -> bool:
    """True for a well-formed user id of `platform`: the only ids a mention or DM may use."""
    pattern = _DISCORD_ID if platform == "discord" else _SLACK_ID
    return pattern.match(user_id) is not None


def mention_user(user_id: str, platform: Platform) -> str:
    """The one legitimate ping: a subscriber's mention, built only from a well-formed id."""
    if platform in PLATFORMS and is_user_id(user_id, platform):
        return f"<@{user_id}>"
    raise ValueError(f"not a {platform} user id: {user_id[:40]!r}")


def walk_strings(value: Any) -> list[str]:
    """Every string inside a reply, for checks such as `find_mentions` over a whole reply."""
    if isinstance(value, str):
        return [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        items: list[Any] = [getattr(value, f.name) for f in dataclasses.fields(value)]
    elif isinstance(value, (tuple, list)):
        items = list(value)
    elif isinstance(value, Mapping):
        items = [*value.keys(), *value.values()]
    else:
        return []
    return [text for item in items for text in walk_strings(item)]

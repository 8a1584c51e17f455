"""Neutralise chat mentions in text that came from users, rules or data.

Pure functions, no chat SDKs. Adapters pass every string they did not write themselves
through `neutralise(text, platform)` (or a whole reply through `sanitize`) before formatting,
and build the only legitimate pings, subscriber mentions, with `mention_user`. Each
platform's rules (what it parses as a mention, how text is disarmed, its id syntax) are its
entry in `bot.platforms`; this module applies them to whole replies.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from bot.platforms import PlatformName, platform_named

T = TypeVar("T")


def neutralise(text: str, platform: PlatformName) -> str:
    """Make `text` mention-free for `platform`."""
    return platform_named(platform).neutralise(text)


def find_mentions(text: str, platform: PlatformName) -> list[str]:
    """Every substring of `text` the platform would parse as a mention."""
    pattern = platform_named(platform).mention_pattern
    return [match.group(0) for match in pattern.finditer(text)]


def assert_safe(text: str, platform: PlatformName) -> str:
    """Return `text` unchanged, or raise ValueError if it still holds a mention."""
    found = find_mentions(text, platform)
    if found:
        raise ValueError(f"unescaped mention in outgoing text: {found[0]!r}")
    return text


def sanitize(value: T, platform: PlatformName) -> T:
    """A copy of a reply (dataclasses, tuples, lists, dicts, strings) with every string neutralised.

    Non-string leaves (numbers, dates, None) are returned as they are.
    """
    return _sanitize(value, platform)


def _sanitize(value: Any, platform: PlatformName) -> Any:
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


def is_user_id(user_id: str, platform: PlatformName) -> bool:
    """True for a well-formed user id of `platform`: the only ids a mention or DM may use."""
    return platform_named(platform).is_user_id(user_id)


def mention_user(user_id: str, platform: PlatformName) -> str:
    """The one legitimate ping: a subscriber's mention, built only from a well-formed id."""
    return platform_named(platform).mention(user_id)


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

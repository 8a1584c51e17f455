"""Build the configured destinations from Settings: every registered platform, else the console.

Each platform's posting module (`Platform.delivery_module` in `bot.platforms`) builds its own
notifiers; it is imported only when configured, so a console-only setup never loads
discord.py or slack_sdk.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Sequence
from types import ModuleType

from bot.config import Settings
from bot.delivery.message import Notifier
from bot.platforms import Platform, PlatformName, all_platforms

log = logging.getLogger(__name__)


def build_notifiers(settings: Settings) -> list[Notifier]:
    """One notifier per configured destination; the console when none is configured."""
    notifiers: list[Notifier] = []
    for platform in all_platforms():
        if platform.posting_enabled(settings):
            notifiers += posting_module(platform).build_channel_notifiers(settings)
    if not notifiers:
        from bot.delivery.console import ConsoleNotifier

        notifiers.append(ConsoleNotifier())
    log.debug("destinations: %s", ", ".join(n.name for n in notifiers))
    return notifiers


def posting_module(platform: Platform) -> ModuleType:
    """The platform's posting module (imports its SDK): `build_channel_notifiers` and friends."""
    return importlib.import_module(platform.delivery_module)


def dm_platforms(settings: Settings) -> tuple[PlatformName, ...]:
    """Platforms that can send direct messages: those with a bot identity configured."""
    return tuple(platform.name for platform in all_platforms() if platform.can_dm(settings))


def dm_notifiers(
    settings: Settings, destinations: Iterable[str], notifiers: Sequence[Notifier]
) -> list[Notifier]:
    """DM notifiers for the `<platform>:dm:<id>` names in `destinations`.

    They share the channel notifiers' clients (one Discord HTTP session, one Slack client).
    Names no configured platform can serve are left out: the sender logs those rows as waiting.
    """
    names = list(dict.fromkeys(destinations))
    found: list[Notifier] = []
    for platform in all_platforms():
        prefix = platform.dm_prefix
        user_ids = [name.removeprefix(prefix) for name in names if name.startswith(prefix)]
        if user_ids and platform.can_dm(settings):
            found += posting_module(platform).build_dm_notifiers(settings, user_ids, notifiers)
    return found


def on_demand_notifiers(
    settings: Settings, destinations: Iterable[str], notifiers: Sequence[Notifier]
) -> list[Notifier]:
    """Notifiers for the DMs and routed channels in `destinations` that `notifiers` lack."""
    names = list(destinations)
    dms = dm_notifiers(settings, names, notifiers)
    return [*dms, *route_notifiers(settings, names, [*notifiers, *dms])]  # one client each


def route_notifiers(
    settings: Settings, destinations: Iterable[str], notifiers: Sequence[Notifier]
) -> list[Notifier]:
    """Channel notifiers for the routed `<platform>:<channel id>` names no notifier serves.

    They share the configured notifiers' clients; a platform that cannot post by channel id
    builds none (`rotation-bot run` refuses to start with such a route), and its rows wait.
    """
    have = {notifier.name for notifier in notifiers}
    found: list[Notifier] = []
    for platform in all_platforms():
        prefix = f"{platform.name}:"
        channels = [
            name.removeprefix(prefix)
            for name in dict.fromkeys(destinations)
            if name.startswith(prefix)
            and name not in have
            and platform.is_route_channel(name.removeprefix(prefix))
        ]
        if channels and platform.can_route(settings):
            module = posting_module(platform)
            found += module.build_route_notifiers(settings, channels, [*notifiers, *found])
    return found


def close_notifiers(notifiers: Iterable[Notifier], *, keep: Iterable[Notifier] = ()) -> None:
    """Release HTTP sessions and event loops the notifiers hold (each closed once).

    Args:
        keep: notifiers still in use; their sessions (shared by DM notifiers) stay open.
    """
    closed = {id(r) for n in keep for r in (n, getattr(n, "rest", None)) if r is not None}
    for notifier in notifiers:
        for resource in (notifier, getattr(notifier, "rest", None)):
            close = getattr(resource, "close", None)
            if close is not None and id(resource) not in closed:
                closed.add(id(resource))
                close()

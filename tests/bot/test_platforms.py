"""The platform registry is the only place that lists the chat platforms.

Outside `bot/platforms.py` and each platform's own rooms (its posting module and chat
package), no module spells a platform's name, its destinations or its settings; and a third
entry added to the registry flows through ids, mentions, escaping, limits, admins,
destinations and the chat runner without touching any other module. The third platform's
delivery module and chat runner are this test module itself.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Coroutine, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot import platforms
from bot.chat.on_call import make_actor
from bot.cli.run import chat_adapters
from bot.config import Settings, load_settings
from bot.delivery.destinations import build_notifiers, dm_notifiers, dm_platforms
from bot.delivery.limits import fit_message_text
from bot.delivery.message import AlertMessage, DeliveryResult, Notifier, subscriber_ids
from bot.platforms import MessageLimits, Platform
from bot.safety import find_mentions, is_user_id, mention_user, neutralise, sanitize

BOT = Path(__file__).resolve().parents[2] / "bot"
ROOM = "!desk:example.org"


def _neutralise_matrix(text: str) -> str:
    return text.replace("@room", "@\u200broom").replace("matrix.to/#/", "matrix.to/#/\u200b")


MATRIX = Platform(
    name="matrix",
    title="Matrix",
    user_id=re.compile(r"^@[a-z0-9._=-]+:[a-z0-9.-]+$"),
    channel_id=re.compile(r"^![A-Za-z0-9]+:[a-z0-9.-]+$"),
    mention_template="https://matrix.to/#/{user_id}",
    mention_pattern=re.compile(r"@room|matrix\.to/#/@"),
    neutralise=_neutralise_matrix,
    limits=MessageLimits(text=100, seconds_per_message=0.5),
    admin_ids=lambda settings: ("@boss:example.org",),
    can_dm=lambda settings: True,
    posting_enabled=lambda settings: True,
    chat_wanted=lambda settings: True,
    delivery_module=__name__,
    chat_runner=f"{__name__}:run_matrix",
)


class MatrixNotifier:
    """What a Matrix posting module would build (never asked to post here)."""

    min_interval = MATRIX.limits.seconds_per_message

    def __init__(self, name: str) -> None:
        self.name = name

    def send(self, message: AlertMessage, *, idempotency_key: str) -> DeliveryResult:
        return DeliveryResult(self.name, None)


def build_channel_notifiers(settings: Settings) -> list[Notifier]:
    return [MatrixNotifier(f"matrix:{ROOM}")]  # type: ignore[list-item]


def build_dm_notifiers(
    settings: Settings, user_ids: Iterable[str], notifiers: Iterable[Notifier]
) -> list[Notifier]:
    return [MatrixNotifier(MATRIX.dm_destination(u)) for u in user_ids if MATRIX.is_user_id(u)]  # type: ignore[misc]


async def run_matrix(settings: Settings, core: Any) -> None:
    """The chat runner a Matrix package would provide (closed unrun here)."""


@pytest.fixture
def with_matrix(monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    monkeypatch.setitem(platforms.REGISTRY, MATRIX.name, MATRIX)
    yield MATRIX


# Nothing outside the registry and the platforms' own rooms names a platform


def _rooms(platform: Platform) -> tuple[str, ...]:
    chat_package = platform.chat_runner.partition(":")[0].rsplit(".", 1)[0]
    return (platform.delivery_module, chat_package)  # delivery_module also covers *_alert


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(BOT.parent).with_suffix("").parts).removesuffix(".__init__")


def _platform_words(tree: ast.AST, name: str) -> list[str]:
    """String constants naming the platform or one of its destinations; its settings used."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value == name or node.value.startswith(f"{name}:"):
                found.append(repr(node.value))
        elif isinstance(node, ast.Attribute) and node.attr.startswith(f"{name}_"):
            found.append(f".{node.attr}")
    return found


def test_only_the_registry_and_each_platforms_rooms_name_it() -> None:
    # the registry; the settings (bot.config, its pydantic model, its quick reader and the
    # value checks both share)
    neutral = {
        "bot.platforms",
        "bot.config",
        "bot.settings_model",
        "bot.quick_settings",
        "bot.settings_values",
    }
    offenders = []
    for path in sorted(BOT.rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for platform in platforms.all_platforms():
            if module in neutral or module.startswith(_rooms(platform)):
                continue
            offenders += [f"{module}: {w}" for w in _platform_words(tree, platform.name)]
    assert offenders == []


def test_the_registry_lists_discord_and_slack() -> None:
    assert platforms.platform_names() == ("discord", "slack")
    assert platforms.platform_named("slack") is platforms.SLACK
    with pytest.raises(ValueError, match="unknown platform"):
        platforms.platform_named("irc")


# A third entry flows through every helper


def test_a_third_platform_gets_ids_mentions_and_escaping(with_matrix: Platform) -> None:
    assert "matrix" in platforms.platform_names()
    assert is_user_id("@ann:example.org", "matrix") and not is_user_id("U0ABC12", "matrix")
    assert mention_user("@ann:example.org", "matrix") == "https://matrix.to/#/@ann:example.org"
    with pytest.raises(ValueError, match="matrix"):
        mention_user("<@1>", "matrix")
    hostile = "@room see https://matrix.to/#/@eve:example.org"
    assert find_mentions(hostile, "matrix") == ["@room", "matrix.to/#/@"]
    assert find_mentions(neutralise(hostile, "matrix"), "matrix") == []
    assert sanitize(("@room",), "matrix") == ("@\u200broom",)


def test_a_third_platform_gets_limits_admins_and_subscribers(with_matrix: Platform) -> None:
    assert fit_message_text("x" * 300, "matrix") == "x" * 99 + "…"
    settings = load_settings(None)
    assert make_actor(settings, "matrix", "@boss:example.org").is_admin
    assert not make_actor(settings, "matrix", "@ann:example.org").is_admin
    message = AlertMessage("k", "r", "fired", "t", "up", date(2025, 1, 2))
    pinged = message.with_mentions(["@ann:example.org", "123456", "@bad"])
    assert subscriber_ids(pinged, "matrix") == ["@ann:example.org"]


def test_a_third_platform_gets_destinations_and_dms(with_matrix: Platform) -> None:
    assert platforms.platform_of(f"matrix:{ROOM}") is MATRIX
    dm = MATRIX.dm_destination("@ann:example.org")
    assert dm == "matrix:dm:@ann:example.org" and platforms.is_dm(dm)
    assert platforms.dm_user_id(dm) == "@ann:example.org"
    settings = load_settings(None)
    assert "matrix" in dm_platforms(settings)
    channels = build_notifiers(settings)
    assert [n.name for n in channels] == [f"matrix:{ROOM}"]
    found = dm_notifiers(settings, [dm, "matrix:dm:nobody", "discord:dm:1"], channels)
    assert [n.name for n in found] == [dm]


def test_a_third_platform_starts_its_chat_runner(with_matrix: Platform, db_path: Path) -> None:
    adapters: list[Coroutine[Any, Any, None]] = chat_adapters(load_settings(None), db_path)
    names = [coro.cr_code.co_name for coro in adapters]  # type: ignore[attr-defined]
    for coro in adapters:
        coro.close()
    assert names == ["run_matrix"]


def test_storage_accepts_exactly_the_registered_platforms() -> None:
    # storage/ sits below bot/ and keeps its own check of the stored platform column; a new
    # entry must be added there too, and this says so.
    from storage import subscriptions

    assert subscriptions.PLATFORMS == platforms.platform_names()

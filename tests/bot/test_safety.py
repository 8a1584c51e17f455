"""Mentions in user, rule or data text never ping anyone on Discord or Slack."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.platforms import ZWSP, PlatformName, escape_slack, neutralise_discord, platform_names
from bot.safety import (
    assert_safe,
    find_mentions,
    mention_user,
    neutralise,
    sanitize,
    walk_strings,
)

DISCORD_ATTACKS = [
    "@everyone",
    "@here",
    "hi @everyone!",
    "@EveryOne",
    "<@123456789012345678>",
    "<@!123456789012345678>",
    "<@&987654321>",
    "<#555>",
    "<id:customize>",
    "@everyone <@&123> <@!1><@2>",
    "@@everyone",
    "<<@1>>",
]
SLACK_ATTACKS = [
    "<!everyone>",
    "<!here>",
    "<!channel>",
    "<!here|here>",
    "<@U123ABC>",
    "<@W0123>",
    "<!subteam^S1>",
    "<!subteam^S1|@team>",
    "<#C123>",
    "@here",
    "@channel",
    "@everyone",
    "a & b <x> >",
]


@pytest.mark.parametrize("text", DISCORD_ATTACKS)
def test_discord_attacks_are_neutralised(text: str) -> None:
    assert find_mentions(text, "discord"), "the detector must see the raw attack"
    safe = neutralise_discord(text)
    assert find_mentions(safe, "discord") == []
    assert safe.replace(ZWSP, "") == text  # readers see exactly what was written


@pytest.mark.parametrize("text", SLACK_ATTACKS)
def test_slack_attacks_are_escaped(text: str) -> None:
    safe = escape_slack(text)
    assert find_mentions(safe, "slack") == []
    assert "<" not in safe and ">" not in safe


def test_slack_escaping_is_slacks_own() -> None:
    assert escape_slack("A&B <tag>") == "A&amp;B &lt;tag&gt;"


def test_plain_text_unchanged() -> None:
    text = "IWC overtook OEF YTD: +4.1% vs +2.3% (spread 180 bps), user@example.com"
    assert neutralise(text, "discord") == text
    assert neutralise(text, "slack") == text


def test_discord_neutralising_is_idempotent() -> None:
    once = neutralise_discord("@everyone <@1>")
    assert neutralise_discord(once) == once


def test_unknown_platform_rejected() -> None:
    with pytest.raises(ValueError, match="platform"):
        neutralise("x", "irc")  # type: ignore[arg-type]


def test_assert_safe() -> None:
    assert assert_safe("fine", "slack") == "fine"
    with pytest.raises(ValueError, match="mention"):
        assert_safe("<!here>", "slack")


def test_mention_user_builds_only_well_formed_ids() -> None:
    assert mention_user("123456", "discord") == "<@123456>"
    assert mention_user("U0ABC12", "slack") == "<@U0ABC12>"
    for bad, platform in [
        ("&1", "discord"),
        ("1>", "discord"),
        ("!here", "slack"),
        ("u1", "slack"),
    ]:
        with pytest.raises(ValueError):
            mention_user(bad, platform)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Inner:
    name: str
    values: tuple[str, ...]
    number: float = 1.5


@dataclass(frozen=True)
class Outer:
    title: str
    rows: list[Inner]
    extra: dict[str, str] = field(default_factory=dict)
    missing: str | None = None


def test_sanitize_walks_nested_replies() -> None:
    reply = Outer("@here", [Inner("<@&1>", ("<!channel>", "ok"))], {"k": "@everyone"})
    for platform in platform_names():
        clean = sanitize(reply, platform)
        assert isinstance(clean, Outer) and clean.rows[0].number == 1.5
        for text in walk_strings(clean):
            assert find_mentions(text, platform) == [], (platform, text)
    assert reply.title == "@here"  # the original reply is untouched


@settings(max_examples=2000, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("@<>!&#^|:UWS0123 everyonhcal")) | st.characters())
)
def test_any_text_is_safe_after_neutralising(text: str) -> None:
    for platform in platform_names():
        p: PlatformName = platform
        assert find_mentions(neutralise(text, p), p) == []

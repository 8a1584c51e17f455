"""Thousands of arbitrary argument strings through every parser and command.

No exception other than CommandError escapes, every error is one line, and no reply (or
error line) holds an unescaped mention once passed through bot.safety for either platform.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.chat import parsing
from bot.chat.core import Commands, make_actor
from bot.chat.parsing import CommandError
from bot.config import load_settings
from bot.platforms import platform_names
from bot.safety import find_mentions, neutralise, sanitize, walk_strings
from signals.models import PriceBar
from signals.rules import parse_rule
from storage.db import open_db
from storage.prices import upsert_bars

NOW = datetime(2026, 3, 2, 21, 0, tzinfo=UTC)
RULE_IDS = ["rut-ath", "iwm-ath"]
ATTACKS = [
    "@everyone",
    "@here",
    "<@123>",
    "<@!123>",
    "<@&123>",
    "<#123>",
    "<!everyone>",
    "<!here>",
    "<!channel>",
    "<@U123>",
    "<!subteam^S1>",
    "&amp;",
    "`",
    "\n",
]
TOKENS = [
    "AAA",
    "bbb",
    "prv",
    "VOL",
    "neg",
    "^rut",
    "ytd",
    "42d",
    "since:2026-01-02",
    "since:2025-12-31",
    "all",
    "dm",
    "mention",
    "4h",
    "1d",
    *RULE_IDS,
    *ATTACKS,
]
ARG = st.one_of(
    st.none(),
    st.sampled_from(TOKENS),
    st.text(max_size=40),
    st.lists(st.sampled_from(TOKENS) | st.text(max_size=6), max_size=4).map("".join),
)


@pytest.fixture(scope="module")
def core() -> Iterator[Commands]:
    db = open_db(None)
    values = {"2025-12-31": 100.0, "2026-01-02": 101.0, "2026-03-02": 110.0}
    upsert_bars(
        db,
        [
            PriceBar(symbol, date.fromisoformat(day), close=v * k, adj_close=v * k)
            for symbol, k in (("AAA", 1.0), ("BBB", 0.5), ("^RUT", 20.0))
            for day, v in values.items()
        ],
    )
    # Cached but unusable: only a provisional bar, only volume, a negative price.
    upsert_bars(
        db,
        [
            PriceBar("PRV", date(2026, 3, 2), close=5.0, adj_close=5.0, final=False),
            PriceBar("VOL", date(2026, 3, 2), volume=5.0),
            PriceBar("NEG", date(2026, 3, 2), close=-1.0, adj_close=-1.0),
        ],
    )
    rules = [
        parse_rule({"type": "new_high", "id": "rut-ath", "symbol": "^RUT"}),
        parse_rule(
            {"type": "new_high", "id": "iwm-ath", "symbol": "IWM", "name": "@everyone <@&1>"}
        ),
    ]
    settings_ = load_settings(None, discord_admin_ids=("1",), slack_admin_ids=("UADMIN",))
    yield Commands(settings_, db, rules=rules, clock=lambda: NOW)
    db.close()


def _calls(core: Commands, a: str | None, b: str | None, c: str | None) -> list[Callable[[], Any]]:
    admin = make_actor(core.settings, "discord", "1")
    user = make_actor(core.settings, "slack", "U42")
    return [
        lambda: parsing.parse_symbol(a),
        lambda: parsing.parse_window(a, today=NOW.date()),
        lambda: parsing.parse_duration(a),
        lambda: parsing.parse_rule_id(a, RULE_IDS, allow_all=True),
        lambda: parsing.parse_mode(a),
        lambda: core.spread(a, b, c),
        lambda: core.signal(a, user),
        lambda: core.rule_choices(a or ""),
        lambda: core.subscribe(user, a, b),
        lambda: core.unsubscribe(user, a),
        lambda: core.subscriptions(user),
        lambda: core.mute(admin, a, b),
        lambda: core.mute(user, a, b),
        lambda: core.unmute(admin, a),
        lambda: core.acknowledge(user, a or ""),
        lambda: core.help(a or "/"),
        lambda: core.symbol_choices(a or ""),
    ]


def _check_safe(value: Any) -> None:
    for platform in platform_names():
        for text in walk_strings(sanitize(value, platform)):
            assert find_mentions(text, platform) == [], (platform, text)


@settings(
    max_examples=1500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(a=ARG, b=ARG, c=ARG)
@example(a="AAA", b="bbb", c="ytd")
@example(a="prv", b="VOL", c="1d")
@example(a="AAA", b="neg", c="since:2025-12-31")
@example(a="rut-ath", b="dm", c=None)
@example(a="iwm-ath", b="<@&1>", c="@here")
def test_no_exception_escapes_and_no_mention_survives(
    core: Commands, a: str | None, b: str | None, c: str | None
) -> None:
    for call in _calls(core, a, b, c):
        try:
            reply = call()
        except CommandError as error:
            assert error.message and "\n" not in error.message
            for platform in platform_names():
                assert find_mentions(neutralise(error.message, platform), platform) == []
        else:
            _check_safe(reply)


def test_argument_free_commands_are_safe(core: Commands) -> None:
    for reply in (core.signals(), core.status(), core.help()):
        _check_safe(reply)

"""Discord's 3-second deadline over the gateway (issue 21, item 2).

Over the gateway nobody defers for the bot: every command or button whose answer needs the
database or a chart must defer itself at once, before that work. The tests hold every thread
the work could run in (asyncio's default executor and the chart pool, each with one worker
taken) and check that the first response has already reached the fake Discord while no
database or chart work can have started; then they let the work go and read the answers.
Interactions go through the client's real connection state and `CommandTree`, as in
`tests.fakes.discord_kit`, but without waiting for the handlers to finish.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bot.chat.chart_pool import ChartPool, configure_charts
from tests.bot.test_discord_buttons import alert, buttons, post_alert, rest
from tests.fakes.discord_interactions import FakeDiscordApp
from tests.fakes.discord_kit import (
    ADMIN,
    ALICE,
    BOB,
    Harness,
    User,
    _command_data,
    interaction_payload,
    settle,
    texts_of,
)

__all__ = ["rest"]  # the fixture

# Seconds: a deferral needs one local HTTP request (milliseconds), but the machine may be
# shared; what the tests hold is that it came while no thread could run the work.
FIRST_WITHIN = 2.0

# Subscribed before the batch: the batch's own /subscribe and /subscriptions run in whatever
# order their deferrals come back, so one cannot be read from the other.
ERIN = User("46", "erin")

# (command, options, user, whether its deferral and answer are private)
DATABASE_COMMANDS: list[tuple[str, dict[str, str], User, bool]] = [
    ("subscribe", {"id": "iwc-ath"}, ALICE, True),
    ("unsubscribe", {"id": "iwc-ath"}, BOB, True),
    ("subscriptions", {}, ERIN, True),
    ("mute", {"id": "iwc-ath", "duration": "4h"}, ADMIN, False),
    ("unmute", {"id": "iwc-over-spy"}, ADMIN, False),
    ("signals", {}, ALICE, False),
    ("status", {}, ALICE, False),
    ("spread", {"a": "IWC", "b": "SPY"}, User("44", "carol"), False),
    ("signal", {"id": "iwc-ath"}, User("45", "dave"), False),
    ("rule", {"command": "new spread IWC SPY 42d above 400bps"}, ADMIN, False),
]


@pytest.fixture
def blocked_pool() -> Iterator[tuple[ChartPool, threading.Event]]:
    """A one-worker chart pool, its worker held until the event is set."""
    pool = configure_charts(workers=1, per_user=2)
    release = threading.Event()
    pool.executor.submit(release.wait, 20)
    yield pool, release
    release.set()
    configure_charts(None, 2)


def block_default_executor(release: threading.Event) -> None:
    """asyncio's default executor (every `to_thread`: the database) with its one thread held."""
    busy = ThreadPoolExecutor(1, thread_name_prefix="held")
    asyncio.get_running_loop().set_default_executor(busy)
    busy.submit(release.wait, 20)


def dispatch(bot: Harness, name: str, user: User = ALICE, **options: str) -> str:
    """Hand one command to the client as the gateway does, without waiting for its answer."""
    interaction_id, token = bot.fake.open_interaction(2)
    payload = interaction_payload(interaction_id, token, 2, _command_data(name, options), user)
    bot.client._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
    return token


def dispatch_press(bot: Harness, custom_id: str, message: dict[str, Any], user: User) -> str:
    """Press a button on a posted message, without waiting for the answer."""
    interaction_id, token = bot.fake.open_interaction(
        3, channel_id=message["channel_id"], message_id=message["id"]
    )
    data = {"custom_id": custom_id, "component_type": 2}
    payload = interaction_payload(interaction_id, token, 3, data, user) | {"message": message}
    bot.client._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
    return token


async def first_responses(fake: FakeDiscordApp, tokens: list[str]) -> float:
    """Seconds until every interaction has had a first response (polled for about 4 s)."""
    started = time.monotonic()
    for _ in range(400):  # the fake records each response from its own threads
        if all(fake.steps_for(t) for t in tokens):
            break
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def test_every_database_or_chart_answer_is_deferred_before_its_work(
    bot: Harness, blocked_pool: tuple[ChartPool, threading.Event]
) -> None:
    _, release = blocked_pool
    await bot.command("subscribe", ERIN, id="iwc-over-spy")
    block_default_executor(release)
    tokens = [dispatch(bot, name, user, **opts) for name, opts, user, _ in DATABASE_COMMANDS]
    help_token = dispatch(bot, "help")
    seconds = await first_responses(bot.fake, [*tokens, help_token])
    assert seconds < FIRST_WITHIN
    for token, (name, _, _, private) in zip(tokens, DATABASE_COMMANDS, strict=True):
        # Only the deferral: no thread was free, so no database or chart work has run yet.
        assert bot.fake.sequence(token) == ["callback:5"], name
        assert bot.fake.steps_for(token)[0].ephemeral == private, name
    [help_answer] = bot.fake.steps_for(help_token)  # needs no thread: the answer itself
    assert help_answer.name == "callback:4" and help_answer.ephemeral
    assert "/spread" in " ".join(texts_of(help_answer))
    release.set()
    await settle()
    for token, (name, _, _, private) in zip(tokens, DATABASE_COMMANDS, strict=True):
        assert bot.fake.sequence(token) == ["callback:5", "followup"], name
        followup = bot.fake.steps_for(token)[-1]
        assert followup.ephemeral == private, name
        assert " ".join(texts_of(followup)).strip(), name
    names = [name for name, *_ in DATABASE_COMMANDS]
    answers = {name: bot.fake.steps_for(t)[-1] for name, t in zip(names, tokens, strict=True)}
    assert "iwc-ath" in answers["subscribe"].message["content"]
    assert "iwc-over-spy" in answers["subscriptions"].message["content"]
    assert answers["mute"].message["content"].startswith("Muted iwc-ath until")
    assert answers["spread"].message["embeds"][0]["title"] == "IWC vs SPY · ytd"
    assert "chart.png" in answers["spread"].files and "chart.png" in answers["signal"].files
    assert answers["rule"].message["embeds"][0]["title"].startswith("Preview: ")


async def test_a_refusal_after_a_public_deferral_stays_private(
    bot: Harness, blocked_pool: tuple[ChartPool, threading.Event]
) -> None:
    _, release = blocked_pool
    block_default_executor(release)
    token = dispatch(bot, "mute", ALICE, id="iwc-ath", duration="1d")  # not an admin
    assert await first_responses(bot.fake, [token]) < FIRST_WITHIN
    assert bot.fake.sequence(token) == ["callback:5"]
    release.set()
    await settle()
    assert bot.fake.sequence(token) == ["callback:5", "delete_original", "followup"]
    refusal = bot.fake.steps_for(token)[-1]
    assert refusal.ephemeral and refusal.message["content"] == "Only admins can mute signals."


async def test_buttons_defer_their_update_before_the_database(
    bot: Harness, rest: Any, blocked_pool: tuple[ChartPool, threading.Event]
) -> None:
    _, release = blocked_pool
    posted = await post_alert(rest, bot.fake, alert())  # before the executor is held
    message = bot.fake.message_json(posted)
    block_default_executor(release)
    ack, mute = (b["custom_id"] for b in buttons(posted))
    pressed = [dispatch_press(bot, ack, message, BOB), dispatch_press(bot, mute, message, ADMIN)]
    assert await first_responses(bot.fake, pressed) < FIRST_WITHIN
    assert [bot.fake.sequence(t) for t in pressed] == [["callback:6"], ["callback:6"]]
    release.set()
    await settle()
    assert bot.fake.sequence(pressed[0]) == ["callback:6", "edit_original"]
    assert bot.fake.sequence(pressed[1]) == ["callback:6", "followup"]


async def test_subscriptions_answer_at_once_while_charts_queue(
    bot: Harness, blocked_pool: tuple[ChartPool, threading.Event]
) -> None:
    pool, release = blocked_pool
    users = [User(str(100 + n), f"trader{n}") for n in range(8)]
    spreads = [dispatch(bot, "spread", user, a="IWC", b="SPY") for user in users]
    lists = [dispatch(bot, "subscriptions", ALICE) for _ in range(8)]
    assert await first_responses(bot.fake, spreads + lists) < FIRST_WITHIN
    for _ in range(500):  # the lists' answers: the database thread is free, only charts wait
        if all(len(bot.fake.steps_for(t)) == 2 for t in lists):
            break
        await asyncio.sleep(0.01)
    assert all(bot.fake.sequence(t) == ["callback:5", "followup"] for t in lists)
    assert all(bot.fake.steps_for(t)[-1].ephemeral for t in lists)
    assert all(bot.fake.sequence(t) == ["callback:5"] for t in spreads)  # still drawing
    assert sum(pool.in_flight.values()) == 8
    release.set()
    await settle()
    assert all("chart.png" in bot.fake.steps_for(t)[-1].files for t in spreads)


async def test_a_third_charted_command_of_one_user_is_told_to_wait(
    bot: Harness, blocked_pool: tuple[ChartPool, threading.Event]
) -> None:
    _, release = blocked_pool
    first = [dispatch(bot, "spread", BOB, a="IWC", b="SPY") for _ in range(2)]
    await first_responses(bot.fake, first)
    third = dispatch(bot, "spread", BOB, a="IWC", b="SPY")
    other = dispatch(bot, "spread", ALICE, a="IWC", b="SPY")
    assert await first_responses(bot.fake, [third, other]) < FIRST_WITHIN
    assert [bot.fake.sequence(t) for t in first] == [["callback:5"], ["callback:5"]]
    [busy] = bot.fake.steps_for(third)
    assert busy.name == "callback:4" and busy.ephemeral  # at once, privately, no deferral
    assert busy.message["content"].startswith("Busy drawing your other charts: try again in ")
    assert bot.fake.sequence(other) == ["callback:5"]  # another user is not held back
    release.set()
    await settle()

"""The 3-second deadline with charts queued (issue 21, item 4).

Charted commands run in the chart pool (one worker here), which the test fills with a job
that waits for a signal, as a burst of `/spread` would. Meanwhile other commands, the
initial answers of the charted ones and `/healthz` must come at once; a user with two
charted commands under way is told in one line to try again; and when the database thread
work itself is slow, a Discord command is deferred at once rather than after 2.5 s.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.chat.chart_pool import ChartPool, configure_charts
from bot.service.health import read_health
from bot.service.metrics import Metrics, MetricsServer
from tests.fakes.discord_http_kit import Answer, DiscordFront, front
from tests.fakes.discord_kit import ALICE, BOB, User, _command_data, bot, interaction_payload
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_bolt_kit import SlackBot, seeded_bot, texts_of

__all__ = ["bot", "front"]  # the fixtures


@pytest.fixture
def blocked_pool() -> Iterator[tuple[ChartPool, threading.Event]]:
    """A one-worker chart pool, its worker held until the event is set."""
    pool = configure_charts(workers=1, per_user=2)
    release = threading.Event()
    pool.executor.submit(release.wait, 20)
    yield pool, release
    release.set()
    configure_charts(None, 2)


@pytest.fixture
async def slack_bot(fake_slack: FakeSlack, tmp_path: Path) -> AsyncIterator[SlackBot]:
    async for running in seeded_bot(fake_slack, tmp_path):
        yield running


SENDERS = ThreadPoolExecutor(16, thread_name_prefix="discord-front")  # not the loop's default


async def http_command(discord: DiscordFront, name: str, user: User, **options: str) -> Answer:
    """POST one signed command and return the HTTP answer (without waiting for follow-ups)."""
    interaction_id, token = discord.fake.open_interaction(2, over_http=True)
    data = _command_data(name, options)
    body = json.dumps(interaction_payload(interaction_id, token, 2, data, user)).encode()
    loop = asyncio.get_running_loop()
    answer = await loop.run_in_executor(SENDERS, discord._deliver, token, body)
    discord.answers[token] = answer
    return answer


async def test_discord_answers_come_at_once_while_charts_queue(
    front: DiscordFront, blocked_pool: tuple[ChartPool, threading.Event]
) -> None:
    pool, release = blocked_pool
    users = [User(str(100 + n), f"trader{n}") for n in range(8)]
    spreads = [http_command(front, "spread", user, a="IWC", b="SPY") for user in users]
    others = [http_command(front, "subscriptions", ALICE) for _ in range(8)]
    answers = await asyncio.gather(*spreads, *others)
    assert all(a.status == 200 for a in answers)
    assert max(a.seconds for a in answers) < 1.0, [round(a.seconds, 2) for a in answers]
    assert [a.json()["type"] for a in answers[:8]] == [5] * 8  # "thinking…", public
    assert sum(pool.in_flight.values()) == 8  # all eight spreads wait for the worker
    release.set()


async def test_a_third_charted_command_of_one_user_is_told_to_wait(
    front: DiscordFront, blocked_pool: tuple[ChartPool, threading.Event]
) -> None:
    _, release = blocked_pool
    first = [await http_command(front, "spread", BOB, a="IWC", b="SPY") for _ in range(2)]
    third = await http_command(front, "spread", BOB, a="IWC", b="SPY")
    assert [a.json()["type"] for a in first] == [5, 5]
    body = third.json()
    assert body["type"] == 4 and body["data"]["flags"] == 64  # private, in the body
    assert body["data"]["content"].startswith("Busy drawing your other charts: try again in ")
    other = await http_command(front, "spread", ALICE, a="IWC", b="SPY")
    assert other.json()["type"] == 5  # another user is not held back
    release.set()


async def test_discord_defers_at_once_when_the_database_is_slow(front: DiscordFront) -> None:
    loop = asyncio.get_running_loop()
    release = threading.Event()
    busy = ThreadPoolExecutor(1)  # the default executor, every thread taken
    loop.set_default_executor(busy)
    busy.submit(release.wait, 20)
    try:
        answer = await http_command(front, "subscriptions", ALICE)
        assert answer.json() == {"type": 5, "data": {"flags": 64}}  # deferred, privately
        assert answer.seconds < 1.0
    finally:
        release.set()


async def test_slack_acks_and_healthz_come_at_once_while_charts_queue(
    slack_bot: SlackBot, blocked_pool: tuple[ChartPool, threading.Event], tmp_path: Path
) -> None:
    pool, release = blocked_pool

    async def health():  # type: ignore[no-untyped-def]
        db, now = tmp_path / "rotation.db", datetime.now(UTC)
        return await asyncio.to_thread(read_health, db, now, slack_bot.settings)

    metrics = MetricsServer(Metrics(), health, "127.0.0.1", 0)
    await metrics.start()
    try:
        users = [f"U{n:08d}" for n in range(10)]
        acks = await asyncio.gather(
            *(timed(slack_bot.command("/rot-spread", "aaa bbb ytd", user=u)) for u in users),
            *(timed(slack_bot.command("/rot-subscriptions")) for _ in range(5)),
        )
        assert all(status == 200 for status, _ in acks)
        # Within Slack's 3 s though every chart waits (the first request also logs bolt in).
        assert max(seconds for _, seconds in acks) < 2.5
        started = time.monotonic()
        url = f"http://127.0.0.1:{metrics.port}/metrics"
        scrape = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())
        # Answered while every chart still waits: the scrape does not queue behind them.
        assert b"rotation_healthy" in scrape and time.monotonic() - started < 3.0
        assert sum(pool.in_flight.values()) == 10
        # Every text answer comes while the charts still wait: only the uploads queue.
        texts = [" ".join(texts_of(a)) for a in await slack_bot.answers(15)]
        assert sum("AAA vs BBB" in t for t in texts) == 10
        assert sum("subscri" in t.lower() for t in texts) == 5
        assert not any("title" in upload for upload in slack_bot.fake.uploads.values())
    finally:
        release.set()
        await metrics.stop()


async def test_slack_third_charted_command_of_one_user_is_told_to_wait(
    slack_bot: SlackBot, blocked_pool: tuple[ChartPool, threading.Event]
) -> None:
    _, release = blocked_pool
    for _ in range(3):
        await slack_bot.command("/rot-spread", "aaa bbb ytd")
    texts = [" ".join(texts_of(a)) for a in await slack_bot.answers(3)]
    assert sum("Busy drawing your other charts: try again in" in t for t in texts) == 1
    assert sum("AAA vs BBB" in t for t in texts) == 2  # the other two: text now, chart later
    release.set()
    for _ in range(500):  # the two charts, once the pool frees (the fake runs in a thread)
        if sum("title" in u for u in slack_bot.fake.uploads.values()) >= 2:
            break
        await asyncio.sleep(0.02)
    assert sum("title" in u for u in slack_bot.fake.uploads.values()) == 2


async def timed(request: object) -> tuple[int, float]:
    started = time.monotonic()
    posted = await request  # type: ignore[misc]
    return posted.status, time.monotonic() - started

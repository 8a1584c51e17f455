"""Slack HTTP mode under hostile requests (issue 10, item 7).

The real bolt app behind `start_http` on 127.0.0.1: malformed requests get 400 or 401 with
one log line and no traceback before anything runs; a replayed signed request is answered
without running the command again.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from bot.chat.slack.http_guard import ReplayMemory
from bot.delivery.slack_alert import ACK_ACTION
from storage import subscriptions as subs
from storage.db import open_db
from tests.bot.test_slack_interactions import alert, post_alert
from tests.fakes.slack_api import CHANNEL_ID, FakeSlack
from tests.fakes.slack_bolt_kit import (
    ADMIN,
    SECRET,
    TRADER,
    Posted,
    SlackBot,
    block_actions,
    seeded_bot,
)

MEGABYTE = 1_000_000


@pytest.fixture
async def slack_bot(fake_slack: FakeSlack, tmp_path: Path) -> AsyncIterator[SlackBot]:
    async for bot in seeded_bot(fake_slack, tmp_path):
        yield bot


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    """Everything logged (any logger, DEBUG and up), as a service log file would get it."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


def signed(body: bytes, stamp: int | None = None) -> dict[str, str]:
    """Headers of a request signed with the app's secret, over the raw bytes (any bytes)."""
    stamp = int(time.time()) if stamp is None else stamp
    digest = hmac.new(SECRET.encode(), b"v0:%d:" % stamp + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(stamp), "X-Slack-Signature": f"v0={digest}"}


async def raw_post(
    bot: SlackBot,
    body: bytes,
    headers: dict[str, str],
    ctype: str = "application/x-www-form-urlencoded",
) -> Posted:
    async with bot.session.post(
        bot.url, data=body, headers={"Content-Type": ctype, **headers}
    ) as answer:
        return Posted(answer.status, await answer.text(), time.monotonic())


FORM = urlencode({"command": "/rot-help", "text": "", "user_id": TRADER}).encode()
HOSTILE = {
    "non-numeric timestamp": (
        FORM, {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=" + "0" * 64}, 400,
    ),
    "payload a JSON list": (urlencode({"payload": "[1, 2]"}).encode(), "signed", 400),
    "payload a JSON string": (urlencode({"payload": '"x"'}).encode(), "signed", 400),
    "payload not JSON": (b"payload=%7B%22type%22%3A%22block_", "signed", 400),
    "binary body, signed": (bytes(range(256)) * 4, "signed", 400),
    "binary body, unsigned": (bytes(range(256)) * 4, {}, 401),
    "truncated UTF-8 escape": (b"command=%2Frot-help&text=%E2%82", "signed", 400),
    "payload of the wrong shape": (
        urlencode({"payload": json.dumps({"type": "block_actions", "user": 5})}).encode(),
        "signed",
        400,
    ),
    "truncated form": (b"command=%2Frot-help&text", "signed", 400),
    "wrongly signed": (FORM, {"X-Slack-Request-Timestamp": str(int(time.time())),
                              "X-Slack-Signature": "v0=" + "0" * 64}, 401),
}  # fmt: skip


@pytest.mark.parametrize("case", list(HOSTILE))
async def test_hostile_request_is_refused_without_traceback_before_anything_runs(
    slack_bot: SlackBot, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    body, headers, expected = HOSTILE[case]
    caplog.set_level(logging.DEBUG)
    answer = await raw_post(slack_bot, body, signed(body) if headers == "signed" else headers)
    assert answer.status == expected, answer.body
    await slack_bot.settle(0.1)
    assert slack_bot.fake.responses == []  # nothing ran
    assert [
        r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR
    ] == []
    rejected = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert len(rejected) == 1 and str(expected) in rejected[0]


async def test_slacks_unsigned_ssl_check_is_still_answered(slack_bot: SlackBot) -> None:
    answer = await raw_post(slack_bot, b"ssl_check=1&token=legacy", {})
    assert answer.status == 200


async def test_json_body_that_is_not_an_object_is_refused(slack_bot: SlackBot) -> None:
    body = b"[1, 2, 3]"
    answer = await raw_post(slack_bot, body, signed(body), ctype="application/json")
    assert answer.status == 400


async def test_a_megabyte_bad_request_adds_one_short_line_to_the_log(
    slack_bot: SlackBot, log_text: io.StringIO
) -> None:
    before = len(log_text.getvalue())
    body = b"\xff" * MEGABYTE
    answer = await raw_post(slack_bot, body, signed(body))
    assert answer.status == 400
    unsigned = await raw_post(slack_bot, b"payload=" + b"x" * MEGABYTE, {})
    assert unsigned.status == 401
    growth = len(log_text.getvalue()) - before
    assert growth < 300, log_text.getvalue()[before:][:500]  # two lines, not two megabytes


async def test_a_body_cut_off_by_the_client_logs_no_traceback(
    slack_bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = int(slack_bot.url.split(":")[2].split("/")[0])
    head = (
        "POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"X-Slack-Request-Timestamp: {int(time.time())}\r\nX-Slack-Signature: v0={'0' * 64}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(head.encode() + b"payload=%7B")
        raw.shutdown(socket.SHUT_WR)
        await asyncio.to_thread(raw.recv, 1024)
    await slack_bot.settle(0.2)
    assert [
        r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR
    ] == []
    assert slack_bot.fake.responses == []


# Replays within the five-minute window


async def replay(bot: SlackBot, body: str) -> tuple[Posted, Posted]:
    stamp = int(time.time())
    first = await bot.post(body, timestamp=stamp)
    again = await bot.post(body, timestamp=stamp)
    return first, again


def command_body(bot: SlackBot, name: str, text: str, user: str) -> str:
    form = {
        "command": name, "text": text, "user_id": user, "channel_id": CHANNEL_ID,
        "team_id": "T000", "response_url": bot.fake.response_url(1), "trigger_id": "1.2.3",
    }  # fmt: skip
    return urlencode(form)


async def test_replayed_subscribe_does_not_run_again(
    slack_bot: SlackBot, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    body = command_body(slack_bot, "/rot-subscribe", "aaa-ath", TRADER)
    first, again = await replay(slack_bot, body)
    assert (first.status, again.status, again.body) == (200, 200, "")
    await slack_bot.answers(1)
    await slack_bot.settle()
    assert len(slack_bot.fake.responses) == 1
    assert "replayed" in caplog.text
    db = open_db(tmp_path / "rotation.db")
    assert [s.rule_id for s in subs.list_subscriptions(db, "slack", TRADER)] == ["aaa-ath"]


async def test_replayed_mute_does_not_run_again(slack_bot: SlackBot) -> None:
    body = command_body(slack_bot, "/rot-mute", "aaa-ath 4h", ADMIN)
    first, again = await replay(slack_bot, body)
    assert (first.status, again.status) == (200, 200)
    await slack_bot.answers(1)
    await slack_bot.settle()
    assert len(slack_bot.fake.responses) == 1


async def test_replayed_acknowledgement_does_not_run_again(slack_bot: SlackBot) -> None:
    message = alert()
    posted = await post_alert(slack_bot.fake, message)
    payload = block_actions(ACK_ACTION, message.key, TRADER, posted)
    payload["response_url"] = slack_bot.fake.response_url(1)
    first, again = await replay(slack_bot, urlencode({"payload": json.dumps(payload)}))
    assert (first.status, again.status) == (200, 200)
    await slack_bot.settle(0.5)
    assert len(slack_bot.fake.updates) == 1 and slack_bot.fake.responses == []


async def test_a_fresh_request_with_the_same_content_still_runs(slack_bot: SlackBot) -> None:
    body = command_body(slack_bot, "/rot-help", "", TRADER)
    stamp = int(time.time())
    await slack_bot.post(body, timestamp=stamp)
    await slack_bot.post(body, timestamp=stamp - 1)  # a new signature: a new request
    await slack_bot.answers(2)


def test_replay_memory_forgets_out_of_window_signatures_and_stays_bounded() -> None:
    memory = ReplayMemory(window=300, limit=3)
    assert not memory.seen_before("a", 1000, now=1000)
    assert memory.seen_before("a", 1000, now=1299)
    assert not memory.seen_before("a", 1000, now=1301)  # forgotten (and too old for Slack)
    for name in "bcde":
        memory.seen_before(name, 1400, now=1400)
    assert len(memory) == 3

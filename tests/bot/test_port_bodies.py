"""The public port under hostile bodies (issue 21): nesting, malformed HTTP, the word "payload".

The real bolt app and the real Discord endpoint on 127.0.0.1: a body nested past what JSON
can parse is refused 400 (signed) or 401 (unsigned), never a 500; malformed HTTP costs one
log line a minute, never a traceback; and a slash command whose form merely contains the
word "payload" is answered like any other, while its signature is still checked.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from bot.service.log_limits import OncePerMinute, Tally
from bot.service.web import set_limits
from bot.service.web_door import DoorLimits
from tests.bot.test_slack_hostile import raw_post, signed
from tests.fakes.discord_http_kit import DiscordFront, front, sign
from tests.fakes.discord_kit import bot
from tests.fakes.slack_api import CHANNEL_ID, FakeSlack
from tests.fakes.slack_bolt_kit import TRADER, SlackBot, seeded_bot, texts_of

__all__ = ["bot", "front"]  # the fixtures

NESTED = "[" * 5000 + "]" * 5000  # json.loads raises RecursionError on this (about 10 KB)
SHORT_NESTED = "[" * 900  # under a kilobyte, as in the report: RecursionError too


@pytest.fixture
async def slack_bot(fake_slack: FakeSlack, tmp_path: Path) -> AsyncIterator[SlackBot]:
    async for running in seeded_bot(fake_slack, tmp_path):
        yield running


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    """Everything logged at DEBUG and up, formatted as a service log would get it."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    root, level = logging.getLogger(), logging.getLogger().level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


def command_form(bot: SlackBot, text: str, **fields: str) -> str:
    form = {
        "token": "legacy", "team_id": "T000", "team_domain": "desk", "channel_id": CHANNEL_ID,
        "channel_name": "alerts", "user_id": TRADER, "user_name": "trader",
        "command": "/rot-spread", "text": text, "api_app_id": "A0ROTATION",
        "response_url": bot.fake.response_url(1), "trigger_id": "1.2.3",
    }  # fmt: skip
    return urlencode({**form, **fields})


@pytest.mark.parametrize(
    "text, fields, expected",
    [
        ("aaa bbb ytd payload", {}, "Too many arguments"),  # answered, as a bad input
        ("aaa bbb ytd", {"channel_name": "payload-desk"}, "AAA vs BBB"),
        ("aaa bbb ytd", {"team_domain": "payload"}, "AAA vs BBB"),
    ],
    ids=["in the text", "in the channel name", "in the team domain"],
)
async def test_the_word_payload_does_not_hide_a_command(
    slack_bot: SlackBot, text: str, fields: dict[str, str], expected: str
) -> None:
    posted = await slack_bot.post(command_form(slack_bot, text, **fields))
    assert (posted.status, posted.body) == (200, "")
    [answer] = await slack_bot.answers(1)
    assert expected in " ".join(texts_of(answer))


async def test_a_form_with_the_word_payload_is_still_signature_checked(
    slack_bot: SlackBot,
) -> None:
    body = command_form(slack_bot, "aaa bbb ytd payload")
    forged = await slack_bot.post(body, secret="not-the-secret")
    stale = await slack_bot.post(body, timestamp=int(time.time()) - 600)
    assert (forged.status, stale.status) == (401, 401)
    await slack_bot.settle(0.2)
    assert slack_bot.fake.responses == []


@pytest.mark.parametrize("nested", [SHORT_NESTED, NESTED], ids=["short", "long"])
async def test_unsigned_ssl_check_with_a_nested_payload_is_refused_quietly(
    slack_bot: SlackBot, log_text: io.StringIO, nested: str
) -> None:
    body = b"ssl_check=1&payload=" + nested.encode()
    for _ in range(20):
        answer = await raw_post(slack_bot, body, {})
        assert answer.status == 401
    assert "Traceback" not in log_text.getvalue()
    assert log_text.getvalue().count("\n") <= 2  # one line for all twenty


@pytest.mark.parametrize(
    "body, ctype",
    [
        (urlencode({"payload": NESTED}).encode(), "application/x-www-form-urlencoded"),
        (b'{"a": ' + NESTED.encode() + b"}", "application/json"),
        (urlencode({"payload": json.dumps({"type": "block_actions", "a": [[[[[[1]]]]]]})})
         .replace("1", "[" * 80 + "1" + "]" * 80).encode(), "application/x-www-form-urlencoded"),
    ],
    ids=["form payload", "JSON body", "parseable but deep"],
)  # fmt: skip
async def test_signed_nested_slack_body_is_a_400(
    slack_bot: SlackBot, log_text: io.StringIO, body: bytes, ctype: str
) -> None:
    answer = await raw_post(slack_bot, body, signed(body), ctype=ctype)
    assert answer.status == 400
    assert "Traceback" not in log_text.getvalue()


@pytest.mark.parametrize("nested", [NESTED, "[" * 100 + "]" * 100], ids=["unparseable", "deep"])
async def test_signed_nested_discord_body_is_a_400(
    front: DiscordFront, log_text: io.StringIO, nested: str
) -> None:
    body = ('{"type": 2, "id": "7", "data": ' + nested + "}").encode()
    answer = await front.raw(body, sign(front.key, body, str(int(time.time()))))
    assert answer.status == 400
    assert "Traceback" not in log_text.getvalue()
    assert front.fake.steps == []


async def test_malformed_http_costs_one_line_a_minute(
    slack_bot: SlackBot, log_text: io.StringIO
) -> None:
    port = int(slack_bot.url.split(":")[2].split("/")[0])
    garbage = [
        b"POST /slack/events HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Long: " + b"a" * 20000 + b"\r\n\r\n",
        b"POST /slack/events HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ]
    for _ in range(30):
        for request in garbage:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            await writer.drain()
            status = await asyncio.wait_for(reader.read(12), 5)
            assert (status[:5] == b"HTTP/" and status[9:10] == b"4") or status == b""
            writer.close()
    text = log_text.getvalue()
    assert "Traceback" not in text
    assert len(text.encode()) < 2000, text  # ninety bad requests, a few lines in all


def test_a_kind_is_logged_once_a_minute_with_the_count() -> None:
    now = [0.0]
    limit = OncePerMinute(tally=Tally(now=lambda: now[0]))
    logger = logging.getLogger("test.limits")
    records = []
    for second in range(0, 130, 1):
        now[0] = float(second)
        try:
            raise ValueError("bad\nbody")
        except ValueError:
            record = logger.makeRecord(
                "test.limits", logging.ERROR, "f", 1, "Error handling %s", ("x",), exc_info=True
            )
            record.exc_info = __import__("sys").exc_info()
        if limit.filter(record):
            records.append(record.getMessage())
    assert records[0] == "Error handling x: ValueError: bad body"
    assert (
        records[1:]
        == ["Error handling x: ValueError: bad body (and 59 more like it in the last minute)"] * 2
    )


@pytest.fixture
def quick_door() -> Iterator[DoorLimits]:
    """Ports opened in the test get half-second deadlines."""
    limits = DoorLimits(header_timeout=0.5, body_timeout=0.5, idle_timeout=0.5)
    set_limits(limits)
    yield limits
    set_limits(DoorLimits())


async def test_slow_headers_slow_bodies_and_idle_keep_alive_are_cut_off(
    quick_door: DoorLimits, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    async for running in seeded_bot(fake_slack, tmp_path):
        port = int(running.url.split(":")[2].split("/")[0])
        started = time.monotonic()
        # Headers trickled a byte at a time, never finished: closed at the header deadline.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for byte in b"POST /slack/events HTTP/1.1\r\n":  # 0.3 s of it, then nothing more
            writer.write(bytes([byte]))
            await asyncio.sleep(0.01)
        assert await asyncio.wait_for(reader.read(100), 5) == b""
        assert time.monotonic() - started < 2.5
        # Headers complete, the body promised and never sent: 408 at the body deadline.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
        answer = await asyncio.wait_for(reader.read(100), 5)
        assert answer.startswith(b"HTTP/1.1 408")
        writer.close()
        # A kept-alive connection that goes quiet after its answer: closed at the idle deadline.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"HTTP/1.1 404")
        idle = time.monotonic()
        while await asyncio.wait_for(reader.read(1000), 5):
            pass
        assert 0.3 < time.monotonic() - idle < 2.5

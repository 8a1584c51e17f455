"""Discord HTTP interactions: signed POSTs to the real endpoint, the real tree, the fake API."""

from __future__ import annotations

import json
import logging
import time

import pytest
from nacl.signing import SigningKey

from bot.delivery.discord import DiscordRest
from tests.bot.test_discord_buttons import alert, buttons, post_alert
from tests.fakes.discord_http_kit import DiscordFront, front, sign
from tests.fakes.discord_kit import ADMIN, BOB, _command_data, interaction_payload

__all__ = ["front"]  # the fixture

PING = {"id": "1", "application_id": "2", "type": 1, "token": "t", "version": 1}


async def test_ping_is_answered_with_pong(front: DiscordFront) -> None:
    body = json.dumps(PING).encode()
    answer = await front.raw(body, sign(front.key, body, str(int(time.time()))))
    assert (answer.status, answer.json()) == (200, {"type": 1})
    assert front.fake.steps == []


async def test_spread_defers_in_the_body_then_follows_up_with_the_chart(
    front: DiscordFront,
) -> None:
    token = await front.command("spread", a="iwc", b="SPY")
    answer = front.answers[token]
    assert answer.status == 200 and answer.json() == {"type": 5}
    assert answer.seconds < 3.0  # Discord's deadline
    assert front.fake.sequence(token) == ["callback:5", "followup"]
    followup = front.fake.steps_for(token)[1]
    assert followup.files["chart.png"].startswith(b"\x89PNG")
    assert followup.message["embeds"][0]["title"] == "IWC vs SPY · ytd"


async def test_a_private_answer_is_the_body_itself(front: DiscordFront) -> None:
    token = await front.command("help")
    answer = front.answers[token]
    assert answer.json()["type"] == 4
    assert answer.json()["data"]["flags"] == 64  # ephemeral
    assert "/spread" in json.dumps(answer.json()["data"])
    assert front.fake.sequence(token) == ["callback:4"]


async def test_autocomplete_choices_come_back_in_the_body(front: DiscordFront) -> None:
    token = await front.autocomplete("spread", "window", a="IWC", b="SPY", window="1")
    answer = front.answers[token].json()
    assert answer["type"] == 8
    assert {"name": "1m", "value": "1m"} in answer["data"]["choices"]


async def test_acknowledge_button_defers_in_the_body_then_edits_the_alert(
    front: DiscordFront, rest: DiscordRest
) -> None:
    posted = await post_alert(rest, front.fake, alert())
    message = front.fake.message_json(posted)
    token = await front.press(buttons(posted)[0]["custom_id"], message, BOB)
    assert front.answers[token].json() == {"type": 6}
    assert front.fake.sequence(token) == ["callback:6", "edit_original"]
    edited = front.fake.message_by_id(posted.id)
    assert edited.payload["embeds"][0]["fields"][-1]["name"] == "Acknowledged"


async def test_a_slow_answer_is_deferred_in_time_then_edits_the_deferral(
    front: DiscordFront,
) -> None:
    front.endpoint.answer_within = 0.0  # every command that needs a thread is "slow"
    token = await front.command("subscriptions")  # /help needs none: it answers in the body
    assert front.answers[token].json() == {"type": 5, "data": {"flags": 64}}  # private
    assert front.fake.sequence(token) == ["callback:5", "edit_original"]
    [reply] = front.fake.replies
    assert "subscri" in reply.payload["content"].lower() and reply.payload["flags"] == 64


async def test_a_slow_public_answer_replaces_the_private_deferral(front: DiscordFront) -> None:
    front.endpoint.answer_within = 0.0
    token = await front.command("mute", ADMIN, id="iwc-ath", duration="1d")
    assert front.answers[token].json() == {"type": 5, "data": {"flags": 64}}
    assert front.fake.sequence(token) == ["callback:5", "delete_original", "followup"]
    [reply] = front.fake.replies
    assert not reply.payload.get("flags") and "iwc-ath" in reply.payload["content"]


async def test_an_answer_given_as_the_wait_runs_out_is_still_the_body(
    front: DiscordFront,
) -> None:
    front.endpoint.answer_within = 0.0  # the command fails while the wait is being cancelled
    token = await front.command("mute", rule="iwc-ath", duration="1d")  # "id" is the option
    answer = front.answers[token].json()
    assert answer["type"] == 4 and answer["data"]["flags"] == 64
    assert front.fake.sequence(token) == ["callback:4"]


async def test_a_slow_refusal_stays_private(front: DiscordFront) -> None:
    front.endpoint.answer_within = 0.0
    token = await front.command("mute", id="iwc-ath", duration="1d")  # not an admin
    assert front.fake.sequence(token) == ["callback:5", "edit_original"]
    [reply] = front.fake.replies
    assert reply.payload["flags"] == 64 and "admin" in reply.payload["content"].lower()


async def test_a_slow_button_answer_still_edits_the_alert(
    front: DiscordFront, rest: DiscordRest
) -> None:
    front.endpoint.answer_within = 0.0
    posted = await post_alert(rest, front.fake, alert())
    token = await front.press(buttons(posted)[0]["custom_id"], front.fake.message_json(posted))
    assert front.answers[token].json() == {"type": 6}
    assert front.fake.sequence(token) == ["callback:6", "edit_original"]
    edited = front.fake.message_by_id(posted.id)
    assert edited.payload["embeds"][0]["fields"][-1]["name"] == "Acknowledged"


@pytest.fixture
def rest(front: DiscordFront):  # type: ignore[no-untyped-def]
    client = DiscordRest(front.fake.token, api_base=front.fake.api_base)
    yield client
    client.close()


# Hostile requests: refused with 400/401/413, one line, no body, no traceback


def _hostile(front: DiscordFront) -> list[tuple[str, bytes, dict[str, str], int]]:
    good = json.dumps(interaction_payload("600", "tok", 2, _command_data("help", {}), BOB)).encode()
    now = str(int(time.time()))
    stranger = SigningKey.generate()
    tampered = sign(front.key, good, now)
    return [
        ("unsigned", good, {}, 401),
        ("signed by another key", good, sign(stranger, good, now), 401),
        ("body changed after signing", good + b" ", tampered, 401),
        ("signature not hex", good, {**tampered, "X-Signature-Ed25519": "zz" * 64}, 401),
        ("timestamp not a number", good, {**tampered, "X-Signature-Timestamp": "soon"}, 400),
        ("stale", good, sign(front.key, good, str(int(time.time()) - 600)), 401),
        ("not JSON", b"SECRET-BODY{", sign(front.key, b"SECRET-BODY{", now), 400),
        ("not an object", b'["SECRET-BODY"]', sign(front.key, b'["SECRET-BODY"]', now), 400),
        ("no type", b'{"x": "SECRET-BODY"}', sign(front.key, b'{"x": "SECRET-BODY"}', now), 400),
        ("no id", b'{"type": 2}', sign(front.key, b'{"type": 2}', now), 400),
        (
            "no token",
            b'{"type": 2, "id": "5"}',
            sign(front.key, b'{"type": 2, "id": "5"}', now),
            400,
        ),
        ("oversized", b"x" * 300_000, sign(front.key, b"x" * 300_000, now), 413),
    ]


async def test_hostile_requests_are_refused_with_one_line_and_no_body(
    front: DiscordFront, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name, body, headers, status in _hostile(front):
        answer = await front.raw(body, headers)
        assert answer.status == status, name
    assert "SECRET-BODY" not in caplog.text
    assert "Traceback" not in caplog.text
    assert all(record.exc_info is None for record in caplog.records)
    # One line per reason a minute: the three wrongly signed requests share one (issue 21).
    assert caplog.text.count("Discord interaction rejected") == len(_hostile(front)) - 2
    assert front.fake.steps == []  # nothing reached discord.py


async def test_a_replayed_interaction_is_refused_and_not_run_again(front: DiscordFront) -> None:
    body = json.dumps(interaction_payload("601", "tok", 2, _command_data("help", {}), BOB))
    headers = sign(front.key, body.encode(), str(int(time.time())))
    first = await front.raw(body.encode(), headers)
    again = await front.raw(body.encode(), headers)
    assert first.status == 200
    assert (again.status, again.body) == (401, b"interaction replayed within five minutes")

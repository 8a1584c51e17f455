"""Slack slash commands: signed requests through bolt's HTTP handling to the real AsyncApp.

The app runs on 127.0.0.1 (HTTP mode, as `start_http` serves it) against the local fake
Slack Web API; answers arrive at the fake's response_url, charts at its file upload.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.chat.core import Commands
from bot.chat.slack.answers import (
    COMMAND_NAMES,
    PRIVATE,
    answer_command,
    check_slack_settings,
    slack_commands_wanted,
    slash_name,
    split_arguments,
)
from bot.chat.slack.app import run_slack
from bot.config import ConfigError, load_settings
from bot.safety import find_mentions
from storage import subscriptions as subs
from storage.db import open_db
from tests.fakes.slack_api import CHANNEL_ID, FakeSlack
from tests.fakes.slack_bolt_kit import (
    ADMIN,
    NOW,
    RULES,
    TRADER,
    SlackBot,
    seed_prices,
    seeded_bot,
    serve,
    slack_settings,
    texts_of,
)

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "slack-manifest.yaml"
PNG_MAGIC = b"\x89PNG"


@pytest.fixture
async def slack_bot(fake_slack: FakeSlack, tmp_path: Path) -> AsyncIterator[SlackBot]:
    async for bot in seeded_bot(fake_slack, tmp_path):
        yield bot


def mentions_in(answer: dict) -> list[str]:
    return [m for text in texts_of(answer) for m in find_mentions(text, "slack")]


# Ack first, then the answer


async def test_prefixed_spread_acks_at_once_then_answers_in_channel_with_chart(
    slack_bot: SlackBot,
) -> None:
    posted = await slack_bot.command("/rot-spread", "aaa  bbb   ytd")
    assert (posted.status, posted.body) == (200, "")  # the ack: an empty 200 within the request
    [answer] = await slack_bot.answers(1)
    assert slack_bot.fake.responses[0].received_at >= posted.at - 0.05
    assert answer["response_type"] == "in_channel" and answer["replace_original"] is False
    assert "+500 bps" in answer["text"]
    assert answer["blocks"][0]["text"]["text"] == "AAA vs BBB (ytd)"
    assert mentions_in(answer) == []
    upload = await _one_upload(slack_bot.fake)
    assert upload["channel"] == CHANNEL_ID and upload["bytes"].startswith(PNG_MAGIC)
    assert upload["title"] == "AAA vs BBB (ytd)"


async def _one_upload(fake: FakeSlack) -> dict:
    deadline = time.monotonic() + 10
    # The fake runs in its own thread: polling its records is the simple way to wait.
    while not any("title" in u for u in fake.uploads.values()) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    [upload] = fake.uploads.values()
    return upload


async def test_unprefixed_name_is_not_answered(slack_bot: SlackBot) -> None:
    posted = await slack_bot.command("/spread", "AAA BBB")
    assert posted.status == 404
    await slack_bot.settle()
    assert slack_bot.fake.responses == []


@pytest.mark.parametrize(
    "text",
    ["\"aaa\" 'bbb'  ytd", "  AAA   BBB  ", "“aaa” “bbb” “ytd”", 'aaa "bbb'],
)
async def test_quotes_and_extra_spaces_are_tolerated(slack_bot: SlackBot, text: str) -> None:
    await slack_bot.command("/rot-spread", text)
    [answer] = await slack_bot.answers(1)
    assert "+500 bps" in answer["text"]


# Errors: one ephemeral line, nothing pinged, never a stack trace


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AAA", "Missing symbol."),
        ("AAA BBB 7y", "Unknown window `7y`"),
        ("AAA BBB ytd extra", "Too many arguments. Usage: /rot-spread A B [window]"),
        ("AAB BBB", "No data for AAB. Did you mean AAA"),
    ],
)
async def test_bad_input_is_one_ephemeral_line(slack_bot: SlackBot, text: str, expected: str):
    await slack_bot.command("/rot-spread", text)
    [answer] = await slack_bot.answers(1)
    assert answer["response_type"] == "ephemeral"
    assert expected in answer["text"] and "\n" not in answer["text"]
    assert "Traceback" not in str(answer)
    await slack_bot.settle()
    assert slack_bot.fake.uploads == {}  # no chart for an error


@pytest.mark.parametrize(
    "text",
    [
        "<!everyone> <@U0VICTIM>",
        "&lt;!channel&gt; @here",  # how Slack itself escapes <, > and & in the command text
        "<!subteam^S123|@desk> BBB",
        '"@everyone" "<#C123>"',
    ],
)
async def test_mentions_in_arguments_come_back_disarmed(slack_bot: SlackBot, text: str) -> None:
    await slack_bot.command("/rot-spread", text)
    await slack_bot.command("/rot-subscribe", text)
    answers = await slack_bot.answers(2)
    assert all(mentions_in(answer) == [] for answer in answers)
    assert all(answer["response_type"] == "ephemeral" for answer in answers)


async def test_unexpected_failure_is_logged_and_answered_generically(
    fake_slack: FakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = slack_settings(fake_slack)
    broken = Commands.for_path(settings, tmp_path, rules=RULES)  # a directory: SQLite fails
    async for bot in serve(fake_slack, broken, settings):
        await bot.command("/rot-spread", "AAA BBB")
        [answer] = await bot.answers(1)
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith("Sorry, that failed on our side")
    assert "Traceback" not in str(answer) and "sqlite" not in str(answer).lower()
    assert any("/rot-spread failed" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_chart_refused_in_a_channel_without_the_bot_says_so(slack_bot: SlackBot) -> None:
    slack_bot.fake.not_member_of.add(CHANNEL_ID)
    await slack_bot.command("/rot-spread", "AAA BBB")
    spread, note = await slack_bot.answers(2)
    assert spread["response_type"] == "in_channel"
    assert note["response_type"] == "ephemeral" and "not_in_channel" in note["text"]


# Every command


async def test_subscribe_and_subscriptions_are_private_and_stored(slack_bot: SlackBot) -> None:
    await slack_bot.command("/rot-subscribe", "AAA-ATH dm")
    await slack_bot.answers(1)
    await slack_bot.command("/rot-subscriptions")
    subscribed, listed = await slack_bot.answers(2)
    assert subscribed["response_type"] == listed["response_type"] == "ephemeral"
    assert "by direct message" in subscribed["text"]
    assert "aaa-ath (dm)" in listed["text"]
    db = slack_bot.core.db
    assert subs.recipients(db, "aaa-ath", "slack") == subs.Recipients(mention=(), dm=(TRADER,))


async def test_mute_needs_an_admin_and_unmute_works(slack_bot: SlackBot) -> None:
    await slack_bot.command("/rot-mute", "aaa-ath 1d", user=TRADER)
    [refused] = await slack_bot.answers(1)
    assert refused["response_type"] == "ephemeral"
    assert refused["text"] == "Only admins can mute signals."
    await slack_bot.command("/rot-mute", "aaa-ath 4 h", user=ADMIN)
    # Bolt answers in background threads: unmute only after mute was answered, as a person would
    # (two commands in flight may be answered in either order on a busy machine).
    await slack_bot.answers(2)
    await slack_bot.command("/rot-unmute", "aaa-ath", user=ADMIN)
    _, muted, unmuted = await slack_bot.answers(3)
    assert muted["response_type"] == "in_channel"
    assert muted["text"] == "Muted aaa-ath until 2026-03-03 01:00 UTC."
    assert unmuted["text"] == "Unmuted aaa-ath."


async def test_signals_and_signal_answer_in_channel_without_pings(slack_bot: SlackBot) -> None:
    await slack_bot.command("/rot-signals")
    await slack_bot.command("/rot-signal", "rut-ath")
    answers = await slack_bot.answers(2)
    listing, detail = sorted(answers, key=lambda a: "signals," not in a["text"])
    assert listing["text"] == "2 signals, 1 firing: aaa-ath."
    assert "`aaa-ath` firing" in str(listing["blocks"])
    assert all(a["response_type"] == "in_channel" for a in answers)
    assert all(mentions_in(a) == [] for a in answers)  # the rule is named "@here <!channel>"
    assert "&lt;!channel&gt;" in detail["blocks"][0]["text"]["text"]


async def test_help_names_the_prefixed_commands(slack_bot: SlackBot) -> None:
    await slack_bot.command("/rot-help")
    [answer] = await slack_bot.answers(1)
    assert answer["response_type"] == "ephemeral"
    assert "/rot-spread A B [window]" in answer["text"]
    assert "`/rot-mute ID|all DURATION`" in str(answer["blocks"])


async def test_status_is_private(slack_bot: SlackBot) -> None:
    await slack_bot.command("/rot-status")
    [answer] = await slack_bot.answers(1)
    assert answer["response_type"] == "ephemeral" and answer["text"].startswith("Status")


# Signatures


async def test_wrong_signature_is_rejected(slack_bot: SlackBot) -> None:
    posted = await slack_bot.command("/rot-spread", "AAA BBB", secret="not-the-secret")
    assert posted.status == 401
    await slack_bot.settle()
    assert slack_bot.fake.responses == []


async def test_six_minute_old_request_is_rejected(slack_bot: SlackBot) -> None:
    posted = await slack_bot.command("/rot-help", timestamp=int(time.time()) - 6 * 60)
    assert posted.status == 401
    recent = await slack_bot.command("/rot-help", timestamp=int(time.time()) - 4 * 60)
    assert recent.status == 200


# The manifest


def manifest_commands() -> list[dict]:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(MANIFEST.read_text())["features"]["slash_commands"]


def test_manifest_lists_exactly_the_commands_the_app_registers() -> None:
    listed = [item["command"] for item in manifest_commands()]
    assert sorted(listed) == sorted(slash_name("", name) for name in COMMAND_NAMES)
    assert all(item["description"].strip() for item in manifest_commands())


async def test_every_manifest_command_is_answered(fake_slack: FakeSlack, tmp_path: Path) -> None:
    settings = slack_settings(fake_slack, slack_command_prefix="")
    seed_prices(tmp_path / "rotation.db")
    core = Commands.for_path(settings, tmp_path / "rotation.db", rules=RULES, clock=lambda: NOW)
    commands = [item["command"] for item in manifest_commands()]
    async for bot in serve(fake_slack, core, settings):
        for command in commands:
            assert (await bot.command(command, "")).status == 200, command
        answers = await bot.answers(len(commands))
    assert all(mentions_in(answer) == [] for answer in answers)


# Settings and modes


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"slack_mode": "socket"}, "SLACK_APP_TOKEN (xapp-...) is required in Socket Mode"),
        ({"slack_signing_secret": None}, "SLACK_SIGNING_SECRET is required in HTTP mode"),
        ({"slack_bot_token": None}, "SLACK_BOT_TOKEN is required"),
        ({"slack_command_prefix": "Rot "}, "SLACK_COMMAND_PREFIX must be lower-case"),
        ({"slack_command_prefix": "rotation-alerts-bot-"}, "fit in 32 characters"),
    ],
)
async def test_missing_or_bad_settings_are_one_config_line(
    fake_slack: FakeSlack, overrides: dict, problem: str
) -> None:
    settings = slack_settings(fake_slack, **overrides)
    [line] = check_slack_settings(settings)
    assert line.startswith("config error: ") and problem in line
    with pytest.raises(ConfigError) as raised:
        await run_slack(settings, Commands(settings, open_db(None), rules=RULES))
    assert raised.value.lines == [line]


def test_socket_mode_with_both_tokens_is_valid() -> None:
    settings = load_settings(None, slack_bot_token="xoxb-1", slack_app_token="xapp-1")
    assert settings.slack_mode == "socket" and check_slack_settings(settings) == []


@pytest.mark.parametrize(
    ("overrides", "wanted"),
    [
        ({"slack_bot_token": "xoxb-1", "slack_channel": "C0ALERTS1"}, False),  # alerts only
        ({"slack_bot_token": "xoxb-1", "slack_app_token": "xapp-1"}, True),
        ({"slack_signing_secret": "s"}, True),
        ({"slack_mode": "http"}, True),
    ],
)
def test_commands_are_wanted_only_when_asked_for(overrides: dict, wanted: bool) -> None:
    assert slack_commands_wanted(load_settings(None, **overrides)) is wanted


async def test_run_slack_serves_http_mode_on_the_port_until_cancelled(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    port = _free_port()
    settings = slack_settings(fake_slack, slack_http_port=port)
    core = Commands.for_path(settings, tmp_path / "rotation.db", rules=RULES, clock=lambda: NOW)
    started = asyncio.Event()
    task = asyncio.create_task(run_slack(settings, core, host="127.0.0.1", started=started))
    await asyncio.wait_for(started.wait(), 5)
    bot = SlackBot(f"http://127.0.0.1:{port}/slack/events", fake_slack, core, settings)
    try:
        assert (await bot.command("/rot-help")).status == 200
        assert (await bot.answers(1))[0]["response_type"] == "ephemeral"
    finally:
        await bot.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# Argument splitting and the answer core, fuzzed


def test_split_arguments_undoes_slack_escaping_and_honours_quotes() -> None:
    assert split_arguments(' IWC   "OEF"  since:2025-01-02 ') == ["IWC", "OEF", "since:2025-01-02"]
    assert split_arguments("S&amp;P &lt;x&gt;") == ["S&P", "<x>"]
    assert split_arguments("a 'b") == ["a", "b"]
    assert split_arguments(None) == split_arguments("") == []


@pytest.fixture(scope="module")
def fuzz_core(tmp_path_factory: pytest.TempPathFactory) -> Commands:
    path = tmp_path_factory.mktemp("fuzz") / "rotation.db"
    seed_prices(path)
    settings = load_settings(None, slack_admin_ids=(ADMIN,), slack_command_prefix="rot-")
    return Commands.for_path(settings, path, rules=RULES, clock=lambda: NOW)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(COMMAND_NAMES),
    text=st.text(max_size=80)
    | st.lists(
        st.sampled_from(["<!here>", "@everyone", "<@U1>", "&lt;", '"', "AAA", "aaa-ath", "1d"]),
        max_size=5,
    ).map(" ".join),
    user=st.sampled_from([TRADER, ADMIN]),
)
def test_no_text_makes_a_command_raise_or_ping(
    fuzz_core: Commands, name: str, text: str, user: str
) -> None:
    answer = answer_command(fuzz_core, name, text, user)
    assert [m for t in texts_of(answer) for m in find_mentions(t, "slack")] == []
    assert answer.text and "Traceback" not in answer.text
    assert answer.ephemeral or name not in PRIVATE


async def test_signal_chart_is_uploaded_only_when_it_can_be_drawn(slack_bot: SlackBot) -> None:
    await slack_bot.command("/rot-signal", "rut-ath")  # no ^RUT prices: no chart, no error
    await slack_bot.answers(1)
    await slack_bot.settle()
    assert slack_bot.fake.uploads == {}
    await slack_bot.command("/rot-signal", "aaa-ath")
    await slack_bot.answers(2)
    upload = await _one_upload(slack_bot.fake)
    assert upload["bytes"].startswith(PNG_MAGIC) and upload["channel"] == CHANNEL_ID

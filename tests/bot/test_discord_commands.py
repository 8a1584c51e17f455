"""Slash commands through a real CommandTree, INTERACTION_CREATE payloads and the fake REST API."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import discord
import pytest
import yarl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.chat.core import Commands
from bot.chat.discord.client import RotationClient, run_discord
from bot.chat.parsing import GENERIC_ERROR
from bot.config import Settings, load_settings
from bot.delivery.discord import configure_api_base
from bot.safety import find_mentions
from storage import subscriptions as subs
from storage.db import open_db
from tests.fakes.discord_interactions import FakeDiscordApp
from tests.fakes.discord_kit import (
    ADMIN,
    ALICE,
    BOB,
    NOW,
    RULES,
    Harness,
    assert_no_pings,
    settle,
    texts_of,
)

EXPECTED = {
    "spread", "signals", "signal", "subscribe", "unsubscribe",
    "subscriptions", "mute", "unmute", "status", "rule", "help",
}  # fmt: skip


def only_reply(bot: Harness, token: str) -> dict:
    """The message of an interaction answered in one step."""
    [step] = bot.fake.steps_for(token)
    return step.message


def deferred_reply(bot: Harness, token: str, *, private: bool) -> dict:
    """The follow-up of an interaction deferred at once (privately or publicly) first."""
    [defer, followup] = bot.fake.steps_for(token)
    assert defer.name == "callback:5" and defer.ephemeral == private
    return followup.message


def refused_after_public_defer(bot: Harness, token: str) -> dict:
    """The private line that replaced a public deferral (its "thinking" message deleted)."""
    assert bot.fake.sequence(token) == ["callback:5", "delete_original", "followup"]
    return bot.fake.steps_for(token)[-1].message


# Sync


async def test_sync_sends_every_command_with_descriptions(bot: Harness) -> None:
    synced = bot.fake.synced
    assert synced is not None and {c["name"] for c in synced} == EXPECTED
    for command in synced:
        assert 0 < len(command["description"]) <= 100, command["name"]
        for option in command.get("options", []):
            assert 0 < len(option["description"]) <= 100, (command["name"], option["name"])
    assert ("PUT", f"/api/v10/applications/{bot.client.application_id}/commands") in (
        bot.fake.requests
    )


async def test_spread_options_are_typed_and_autocompleted(bot: Harness) -> None:
    spread = next(c for c in bot.fake.synced or [] if c["name"] == "spread")
    options = {o["name"]: o for o in spread["options"]}
    assert [o["name"] for o in spread["options"]] == ["a", "b", "window"]
    assert options["a"]["required"] and options["a"]["autocomplete"]
    assert not options["window"].get("required") and options["window"]["autocomplete"]
    subscribe = next(c for c in bot.fake.synced or [] if c["name"] == "subscribe")
    [mode] = [o for o in subscribe["options"] if o["name"] == "mode"]
    assert [c["value"] for c in mode["choices"]] == ["mention", "dm"]


# /spread


async def test_spread_defers_then_follows_up_with_the_chart(bot: Harness) -> None:
    token = await bot.command("spread", a="iwc", b="SPY")
    assert bot.fake.sequence(token) == ["callback:5", "followup"]
    defer, followup = bot.fake.steps_for(token)
    assert not defer.ephemeral and not followup.ephemeral
    assert followup.files["chart.png"].startswith(b"\x89PNG")
    [embed] = followup.message["embeds"]
    assert embed["title"] == "IWC vs SPY · ytd"
    assert embed["image"] == {"url": "attachment://chart.png"}
    assert [f["name"] for f in embed["fields"]] == ["IWC", "SPY", "Spread"]
    [reply] = bot.fake.replies
    assert (
        reply.payload["flags"] == 0 and "chart.png" in reply.files
    )  # the thinking message, filled
    assert_no_pings(bot.fake)


async def test_spread_window_is_normalised(bot: Harness) -> None:
    token = await bot.command("spread", a="IWC", b="SPY", window=" 1M ")
    [_, followup] = bot.fake.steps_for(token)
    assert followup.message["embeds"][0]["title"] == "IWC vs SPY · 1m"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"a": "@everyone", "b": "SPY"}, "is not a ticker"),
        ({"a": "IWC", "b": "SPY", "window": "<@&123>"}, "Unknown window"),
        ({"a": "IWC", "b": "SPY", "window": "9999d"}, "out of range"),
    ],
)
async def test_bad_arguments_answer_one_private_line_at_once(
    bot: Harness, options: dict[str, str], expected: str
) -> None:
    token = await bot.command("spread", **options)
    assert bot.fake.sequence(token) == ["callback:4"]
    message = only_reply(bot, token)
    assert message["flags"] == 64
    assert expected in message["content"] and "\n" not in message["content"]
    assert "Traceback" not in message["content"]
    assert_no_pings(bot.fake)


async def test_error_after_a_public_defer_stays_private(bot: Harness) -> None:
    token = await bot.command("spread", a="ZZZZ", b="SPY")
    assert bot.fake.sequence(token) == ["callback:5", "delete_original", "followup"]
    followup = bot.fake.steps_for(token)[-1]
    assert followup.ephemeral
    assert followup.message["content"].startswith("No data for ZZZZ")
    [reply] = bot.fake.replies  # the thinking message is gone; only the private line remains
    assert reply.payload["flags"] == 64


# /signals, /signal, /status, /help


@pytest.mark.parametrize("name", ["signals", "status"])
async def test_slow_commands_defer_then_answer_publicly(bot: Harness, name: str) -> None:
    token = await bot.command(name)
    assert bot.fake.sequence(token) == ["callback:5", "followup"]
    followup = bot.fake.steps_for(token)[-1]
    assert not followup.ephemeral and followup.message["embeds"]
    assert_no_pings(bot.fake)


async def test_signals_lists_every_rule(bot: Harness) -> None:
    token = await bot.command("signals")
    text = "\n".join(texts_of(bot.fake.steps_for(token)[-1]))
    assert "iwc-over-spy" in text and "iwc-ath" in text


async def test_signal_detail_defers_and_attaches_its_chart(bot: Harness) -> None:
    token = await bot.command("signal", id="IWC-ATH")
    assert bot.fake.sequence(token) == ["callback:5", "followup"]
    followup = bot.fake.steps_for(token)[-1]
    assert "iwc-ath" in followup.message["embeds"][0]["title"]
    assert "chart.png" in followup.files


async def test_unknown_signal_suggests_privately(bot: Harness) -> None:
    token = await bot.command("signal", id="iwc-atj")
    followup = bot.fake.steps_for(token)[-1]
    assert followup.ephemeral and "iwc-ath" in followup.message["content"]


async def test_help_is_private_and_lists_every_command(bot: Harness) -> None:
    token = await bot.command("help")
    message = only_reply(bot, token)
    assert message["flags"] == 64
    description = message["embeds"][0]["description"]
    assert all(f"/{name}" in description for name in EXPECTED)


# Subscriptions and mutes


async def test_subscribe_and_list_privately(bot: Harness, seeded_db: Path) -> None:
    token = await bot.command("subscribe", id="iwc-ath", mode="dm")
    assert deferred_reply(bot, token, private=True)["flags"] == 64
    listed = await bot.command("subscriptions")
    message = deferred_reply(bot, listed, private=True)
    assert message["flags"] == 64 and "iwc-ath (dm)" in message["content"]
    db = open_db(seeded_db)
    assert [(s.user_id, s.mode) for s in subs.subscribers_for(db, "iwc-ath", "discord")] == [
        ("42", "dm")
    ]


async def test_unsubscribe_all(bot: Harness) -> None:
    await bot.command("subscribe", id="all")
    token = await bot.command("unsubscribe", id="ALL")
    message = deferred_reply(bot, token, private=True)
    assert message["flags"] == 64 and message["content"].startswith("Unsubscribed from all")


async def test_non_admin_mute_is_refused_privately(bot: Harness, seeded_db: Path) -> None:
    token = await bot.command("mute", ALICE, id="iwc-ath", duration="1d")
    message = refused_after_public_defer(bot, token)
    assert message["flags"] == 64 and message["content"] == "Only admins can mute signals."
    assert subs.active_mutes(open_db(seeded_db), NOW) == []


async def test_admin_role_mutes_and_unmutes_publicly(bot: Harness, seeded_db: Path) -> None:
    token = await bot.command("mute", ADMIN, id="iwc-ath", duration="4h")
    message = deferred_reply(bot, token, private=False)
    assert not message.get("flags") and message["content"].startswith("Muted iwc-ath until")
    assert [m.rule_id for m in subs.active_mutes(open_db(seeded_db), NOW)] == ["iwc-ath"]
    token = await bot.command("unmute", ADMIN, id="iwc-ath")
    assert deferred_reply(bot, token, private=False)["content"] == "Unmuted iwc-ath."


async def test_hostile_names_and_arguments_never_ping(bot: Harness) -> None:
    for value in ("@everyone", "<@123456789012345678>", "@here hi", "<@&1> x"):
        await bot.command("subscribe", BOB, id=value)
        await bot.command("mute", BOB, id="all", duration=value)
        await bot.command("signal", BOB, id=value)
    assert len(bot.fake.steps) >= 12
    assert_no_pings(bot.fake)


# Autocomplete


async def test_autocomplete_offers_rule_ids_and_all(bot: Harness) -> None:
    token = await bot.autocomplete("subscribe", "id", id="ath")
    [step] = bot.fake.steps_for(token)
    assert step.name == "callback:8"
    assert [c["value"] for c in step.payload["data"]["choices"]] == ["iwc-ath"]
    token = await bot.autocomplete("unsubscribe", "id", id="")
    values = [c["value"] for c in bot.fake.steps_for(token)[0].payload["data"]["choices"]]
    assert values == ["all", "iwc-over-spy", "iwc-ath"]


async def test_autocomplete_offers_cached_symbols_and_windows(bot: Harness) -> None:
    token = await bot.autocomplete("spread", "b", a="IWC", b="s")
    assert [c["value"] for c in bot.fake.steps_for(token)[0].payload["data"]["choices"]] == ["SPY"]
    token = await bot.autocomplete("spread", "window", a="IWC", b="SPY", window="1")
    choices = [c["value"] for c in bot.fake.steps_for(token)[0].payload["data"]["choices"]]
    assert choices == ["1m", "1y"]
    token = await bot.autocomplete("spread", "window", a="IWC", b="SPY", window="42D")
    choices = [c["value"] for c in bot.fake.steps_for(token)[0].payload["data"]["choices"]]
    assert choices == ["42d"]


# Failures


async def test_unexpected_failure_is_logged_and_answered_generically(
    fake_discord_app: FakeDiscordApp,
    discord_settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tests.fakes.discord_kit import Harness as Kit

    # A directory is not a database: every core call fails with sqlite3.OperationalError.
    configure_api_base(fake_discord_app.api_base)
    core = Commands.for_path(discord_settings, tmp_path, rules=RULES, clock=lambda: NOW)
    async with RotationClient(core, discord_settings, sync=False) as client:
        await client.login(fake_discord_app.token)
        kit = Kit(client, fake_discord_app)
        with caplog.at_level(logging.ERROR):
            slow = await kit.command("signals")
            fast = await kit.command("subscriptions")
    assert fake_discord_app.sequence(slow) == ["callback:5", "delete_original", "followup"]
    assert fake_discord_app.steps_for(slow)[-1].message["content"] == GENERIC_ERROR
    assert fake_discord_app.sequence(fast) == ["callback:5", "followup"]  # deferred privately
    assert fake_discord_app.steps_for(fast)[-1].message == {
        "content": GENERIC_ERROR, "flags": 64, "tts": False, "allowed_mentions": {"parse": []},
    }  # fmt: skip
    assert "command /signals failed" in caplog.text and "OperationalError" in caplog.text
    assert fake_discord_app.synced is None  # sync=False skips it


async def test_replies_through_the_gateway_path_only_once(bot: Harness) -> None:
    token = await bot.command("help")
    await settle()
    assert bot.fake.sequence(token) == ["callback:4"]
    assert find_mentions(str(bot.fake.steps), "discord") == []


# The service's task


async def test_run_discord_syncs_once_retries_the_gateway_and_stops_when_cancelled(
    fake_discord_app: FakeDiscordApp, seeded_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK edge: the gateway URL points at the fake, which refuses the websocket.
    gateway = yarl.URL(fake_discord_app.url.replace("http", "ws") + "/gateway")
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", gateway)
    settings = load_settings(
        None, discord_bot_token=fake_discord_app.token, discord_api_base=fake_discord_app.api_base
    )
    core = Commands.for_path(settings, seeded_db, rules=RULES, clock=lambda: NOW)
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(0)

    task = asyncio.create_task(run_discord(settings, core, sleep=record, max_delay=8))
    for _ in range(500):  # each failed connect also waits discord.py's own 0-2 s backoff
        if len(waits) >= 2:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert waits[:2] == [5.0, 8.0]
    syncs = [r for r in fake_discord_app.requests if r[0] == "PUT"]
    assert len(syncs) == 1 and len(fake_discord_app.synced or []) == len(EXPECTED)


async def test_a_cancel_the_sdk_turns_into_a_failure_still_stops_the_retries() -> None:
    # Seen in the suite (1 run in 10): the cancel landed in discord.py's connect as a timeout,
    # was retried as a failed connect, and the gateway loop never stopped.
    from bot.chat.discord.client import _with_backoff

    connecting = asyncio.Event()
    waits: list[float] = []

    async def connect() -> None:
        connecting.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            raise TimeoutError("the connect timed out") from None  # as a racing timeout does

    async def record(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(0)

    task = asyncio.create_task(_with_backoff(connect, "gateway", "reconnecting", record, 8))
    await connecting.wait()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert done == {task} and task.cancelled() and waits == []


async def test_run_discord_stops_on_a_rejected_token(
    fake_discord_app: FakeDiscordApp, seeded_db: Path
) -> None:
    settings = load_settings(
        None, discord_bot_token="wrong-token", discord_api_base=fake_discord_app.api_base
    )
    core = Commands.for_path(settings, seeded_db, rules=RULES, clock=lambda: NOW)
    with pytest.raises(discord.LoginFailure):
        await run_discord(settings, core)


async def test_run_discord_needs_a_token() -> None:
    with pytest.raises(ValueError, match="DISCORD_BOT_TOKEN"):
        await run_discord(load_settings(None), Commands(load_settings(None), open_db(None)))


ANSWERED = (
    ["callback:4"],
    ["callback:5", "followup"],
    ["callback:5", "delete_original", "followup"],
)
argument = st.one_of(
    st.text(min_size=1, max_size=100),
    st.sampled_from(["@everyone", "<@123456789012345678>", "<@&1>", "IWC", "spy", "all", "1d"]),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(name=st.sampled_from(["spread", "subscribe", "mute", "signal"]), x=argument, y=argument)
async def test_arbitrary_arguments_always_get_exactly_one_answer(
    bot: Harness, name: str, x: str, y: str
) -> None:
    options = {
        "spread": {"a": x, "b": y, "window": y},
        "subscribe": {"id": x, "mode": "dm"},
        "mute": {"id": x, "duration": y},
        "signal": {"id": x},
    }[name]
    token = await bot.command(name, BOB, **options)
    assert bot.fake.sequence(token) in ANSWERED
    last = bot.fake.steps_for(token)[-1].message
    assert last.get("embeds") or "\n" not in (last.get("content") or "")
    assert_no_pings(bot.fake)

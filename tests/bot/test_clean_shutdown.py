"""Clean shutdowns and failed logins log no traceback (issue 10, item 6)."""

from __future__ import annotations

import asyncio
import gc
import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import discord
import pytest

from bot.chat.core import Commands
from bot.chat.discord.client import run_discord
from bot.config import load_settings
from bot.delivery.discord import DiscordBotNotifier, DiscordRest
from bot.delivery.message import PermanentError, TransientError, build_alert_message
from bot.service import runner as service_module
from bot.service.runner import Service
from tests.fakes.delivery_kit import make_event
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_interactions import FakeDiscordApp
from tests.fakes.recording_jobs import RecordingJobs

NOW = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)


class FrozenClock:
    """Live-mode clock stuck at one instant; the next slot is an hour of real time away."""

    simulated = False

    def now(self) -> datetime:
        return NOW

    def seconds_until(self, at: datetime) -> float:
        return 3600.0

    def advance_to(self, at: datetime) -> None:
        pass


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Log records that carry a traceback, or name a CancelledError or an unclosed session."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.exc_info
        or "CancelledError" in record.getMessage()
        or "Unclosed" in record.getMessage()
    ]


async def test_a_stop_during_a_poll_logs_no_traceback(
    db_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_module, "POLL_SECONDS", 1.0)
    service = Service(
        load_settings(None), RecordingJobs(), db_path=db_path, clock=FrozenClock(),
        install_signals=False,
    )  # fmt: skip
    caplog.set_level(logging.DEBUG)
    task = asyncio.create_task(service.run())
    await asyncio.wait_for(service.ready.wait(), 10)
    assert service.worker is not None
    await asyncio.wait_for(service.worker.wait_idle(), 10)  # the start's catch-up is done
    # Another writer holds the database: the next poll's heartbeat waits for it (busy_timeout),
    # and the stop arrives while the poll is in flight.
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    await asyncio.sleep(1.5)  # a poll is due after 1 s
    service.request_stop("test")
    await asyncio.sleep(0.3)
    blocker.execute("COMMIT")
    blocker.close()
    assert await asyncio.wait_for(task, 20) == 0
    assert "poll cut short by the shutdown" in caplog.text  # the stop did land mid-poll
    assert tracebacks(caplog) == []
    assert "stopped" in caplog.text


async def test_a_rejected_login_of_the_command_bot_leaves_no_unclosed_session(
    fake_discord_app: FakeDiscordApp, seeded_db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(
        None, discord_bot_token="wrong-token", discord_api_base=fake_discord_app.api_base
    )
    core = Commands.for_path(settings, seeded_db)
    caplog.set_level(logging.INFO)
    for _ in range(3):
        with pytest.raises(discord.LoginFailure):
            await run_discord(settings, core)
    gc.collect()  # a leaked aiohttp session reports itself when it is collected
    await asyncio.sleep(0)
    assert "Discord rejected the bot token" in caplog.text
    assert tracebacks(caplog) == []


def test_failed_logins_of_the_sender_leave_no_unclosed_session(
    fresh_db, fake_discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    rest = DiscordRest("wrong-token", api_base=fake_discord.api_base)
    notifier = DiscordBotNotifier(rest, "123456789012345678")
    message = build_alert_message(make_event())
    caplog.set_level(logging.INFO)
    fake_discord.down_status = 503  # a failed login during an outage, then a rejected token
    with pytest.raises(TransientError):
        notifier.send(message, idempotency_key=message.key)
    fake_discord.down_status = None
    for _ in range(3):
        with pytest.raises(PermanentError, match="401"):
            notifier.send(message, idempotency_key=message.key)
    rest.close()
    gc.collect()
    assert tracebacks(caplog) == []

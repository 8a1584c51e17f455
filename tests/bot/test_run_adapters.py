"""`rotation-bot run` wiring of the chat adapters: which start, config errors, crash isolation."""

from __future__ import annotations

import asyncio
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.cli.run import chat_adapters
from bot.config import load_settings
from bot.service.runner import Service
from bot.service.worker import WorkItem
from tests.bot.test_cli_run import invoke
from tests.bot.test_service import FrozenClock
from tests.fakes.discord_interactions import FakeDiscordApp
from tests.fakes.recording_jobs import RecordingJobs
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_bolt_kit import slack_settings

NOW = datetime(2025, 11, 25, 23, 0, tzinfo=UTC)


def names(adapters: list[Coroutine[Any, Any, None]]) -> list[str]:
    """The adapters' function names; the coroutines are closed, never run."""
    found = [coro.cr_code.co_name for coro in adapters]  # type: ignore[attr-defined]
    for coro in adapters:
        coro.close()
    return found


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, []),
        ({"discord_bot_token": "d-token"}, ["run_discord"]),
        ({"discord_webhook_url": f"https://discord.com/api/webhooks/{'1' * 18}/{'t' * 68}"}, []),
        ({"slack_bot_token": "xoxb-1", "slack_channel": "C0ALERTS1"}, []),  # posting only
        ({"slack_bot_token": "xoxb-1", "slack_app_token": "xapp-1"}, ["run_slack"]),
        (
            {"discord_bot_token": "d", "slack_bot_token": "xoxb-1", "slack_app_token": "xapp-1"},
            ["run_discord", "run_slack"],
        ),
    ],
)
def test_chat_adapters_start_what_the_settings_configure(
    db_path: Path, overrides: dict[str, str], expected: list[str]
) -> None:
    settings = load_settings(None, **overrides)
    assert names(chat_adapters(settings, db_path)) == expected


def test_a_replay_starts_no_chat_adapter(db_path: Path) -> None:
    settings = load_settings(
        None, discord_bot_token="d", slack_bot_token="xoxb-1", slack_app_token="xapp-1"
    )
    assert chat_adapters(settings, db_path, replay=True) == []


def test_half_configured_slack_commands_stop_run_with_exit_2(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")  # Socket Mode asked for, no bot token
    code, output = invoke("--db", str(db_path), "run")
    assert code == 2
    assert output.strip() == "config error: SLACK_BOT_TOKEN is required for Slack commands"
    assert not db_path.exists()  # nothing started


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _slack_status(port: int) -> int:
    """Status of an unsigned request to the Slack app (bolt answers 401 when it is up)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/slack/events", data=b"{}", method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> None:
    for _ in range(500):
        if text in caplog.text:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never logged: {text}")


async def test_a_crashing_adapter_stops_neither_the_service_nor_the_other_adapter(
    db_path: Path,
    fake_discord_app: FakeDiscordApp,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = _free_port()
    settings = slack_settings(
        fake_slack,
        slack_http_port=port,
        discord_bot_token=SecretStr("a-token-discord-rejects"),
        discord_api_base=fake_discord_app.api_base,
    )
    jobs = RecordingJobs()
    service = Service(
        settings, jobs, db_path=db_path, clock=FrozenClock(NOW),
        extra_tasks=chat_adapters(settings, db_path), install_signals=False,
    )  # fmt: skip
    caplog.set_level(logging.INFO)
    task = asyncio.create_task(service.run())
    await asyncio.wait_for(service.ready.wait(), 10)

    await _logged(caplog, "Discord rejected the bot token")
    await _logged(caplog, "background task run_discord stopped with an error")
    await _logged(caplog, "Slack commands over HTTP")
    assert await asyncio.to_thread(_slack_status, port) == 401  # Slack still serves
    assert service.worker is not None
    service.worker.submit([WorkItem("deliver", NOW, origin="poll")])
    await asyncio.wait_for(service.worker.wait_idle(), 10)
    assert jobs.kinds()[-1] == "deliver"  # the scheduler's worker still runs jobs

    service.request_stop("test done")
    assert await asyncio.wait_for(task, 10) == 0
    with pytest.raises(urllib.error.URLError):
        _slack_status(port)  # the Slack app is stopped with the service
    assert "a-token-discord-rejects" not in caplog.text

"""`DISCORD_MODE=http` in the running service: no gateway, one port with Slack and metrics."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nacl.signing import SigningKey
from pydantic import SecretStr

from bot.cli.run import chat_adapters
from bot.service.metrics import Metrics, MetricsServer
from bot.service.runner import Service
from tests.bot.test_cli_run import invoke
from tests.bot.test_run_adapters import _free_port, _logged, names
from tests.bot.test_service import FrozenClock
from tests.fakes.discord_http_kit import post, sign
from tests.fakes.discord_interactions import FakeDiscordApp
from tests.fakes.recording_jobs import RecordingJobs
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_bolt_kit import slack_settings

NOW = datetime(2025, 11, 25, 23, 0, tzinfo=UTC)
PING = json.dumps({"id": "1", "application_id": "2", "type": 1, "token": "t", "version": 1})


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


async def test_http_mode_serves_discord_slack_and_metrics_on_one_port_without_a_gateway(
    db_path: Path,
    fake_discord_app: FakeDiscordApp,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    port, key = _free_port(), SigningKey.generate()
    settings = slack_settings(
        fake_slack,
        slack_http_port=port,
        discord_bot_token=SecretStr(fake_discord_app.token),
        discord_api_base=fake_discord_app.api_base,
        discord_mode="http",
        discord_public_key=key.verify_key.encode().hex(),
        discord_http_port=port,
    )

    async def no_health() -> None:
        raise RuntimeError("not needed here")

    metrics = MetricsServer(Metrics(), no_health, "0.0.0.0", port)  # type: ignore[arg-type]
    service = Service(
        settings, RecordingJobs(), db_path=db_path, clock=FrozenClock(NOW),
        extra_tasks=[*chat_adapters(settings, db_path), metrics.serve()], install_signals=False,
    )  # fmt: skip
    caplog.set_level(logging.INFO)
    task = asyncio.create_task(service.run())
    await asyncio.wait_for(service.ready.wait(), 10)
    await _logged(caplog, "Discord interactions over HTTP")
    await _logged(caplog, "Slack commands over HTTP")

    base = f"http://127.0.0.1:{port}"
    body = PING.encode()
    pong = await asyncio.to_thread(
        post, base + "/discord/interactions", body, sign(key, body, str(int(time.time())))
    )
    assert (pong.status, pong.json()) == (200, {"type": 1})
    unsigned = await asyncio.to_thread(post, base + "/slack/events", b"{}", {})
    assert unsigned.status == 401  # Slack's guard, same port
    assert await asyncio.to_thread(_get, base + "/metrics") == 200
    assert await asyncio.to_thread(_get, base + "/nowhere") == 404
    assert ("GET", "/api/v10/gateway/bot") not in fake_discord_app.requests  # no gateway

    service.request_stop("test done")
    assert await asyncio.wait_for(task, 10) == 0
    with pytest.raises(urllib.error.URLError):
        _get(base + "/metrics")  # the one server closes with its last user
    assert fake_discord_app.token not in caplog.text


def test_http_mode_runs_the_same_discord_adapter(db_path: Path) -> None:
    key = "ab" * 32
    settings = slack_settings(
        FakeSlack(), discord_bot_token=SecretStr("d"), discord_mode="http", discord_public_key=key
    )
    assert names(chat_adapters(settings, db_path)) == ["run_discord", "run_slack"]


def test_http_mode_without_a_public_key_stops_run_with_exit_2(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "d-token")
    monkeypatch.setenv("DISCORD_MODE", "http")
    code, output = invoke("--db", str(db_path), "run")
    assert code == 2
    assert output.strip().startswith("config error: DISCORD_PUBLIC_KEY is required in HTTP mode")
    assert not db_path.exists()


def test_a_malformed_public_key_is_one_config_line(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_PUBLIC_KEY", "not-hex")
    code, output = invoke("--db", str(db_path), "run")
    assert code == 2
    assert output.strip().startswith("config error: DISCORD_PUBLIC_KEY:")

"""Slack Socket Mode with Slack unreachable (issue 21, item 6): like Discord's gateway.

One warning line per try, 5 s doubling, no traceback; the client is closed when the adapter
stops (no "Unclosed client session"); a rejected app token stops the adapter with one line.
"""

from __future__ import annotations

import asyncio
import gc
import io
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.core import Commands
from bot.chat.slack.app import build_slack_app
from bot.chat.slack.socket_mode import serve_socket_mode
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_bolt_kit import NOW, RULES, seed_prices, slack_settings


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root, level = logging.getLogger(), logging.getLogger().level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def run_until_tries(app, tries: int) -> list[float]:  # type: ignore[no-untyped-def]
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)
        await asyncio.sleep(0)

    task = asyncio.create_task(serve_socket_mode(app, "xapp-1-test", sleep=sleep))
    for _ in range(500):
        if len(delays) >= tries or task.done():
            break
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return delays


def app_at(fake_slack: FakeSlack, tmp_path: Path, api_url: str):  # type: ignore[no-untyped-def]
    settings = slack_settings(fake_slack, slack_mode="socket", slack_app_token="xapp-1-test")
    seed_prices(tmp_path / "rotation.db")
    core = Commands.for_path(settings, tmp_path / "rotation.db", rules=RULES, clock=lambda: NOW)
    return build_slack_app(settings, core, AsyncWebClient(token="xoxb-1", base_url=api_url))


async def test_offline_slack_is_one_warning_per_try_with_backoff_and_a_clean_stop(
    fake_slack: FakeSlack, tmp_path: Path, log_text: io.StringIO
) -> None:
    app = app_at(fake_slack, tmp_path, f"http://127.0.0.1:{closed_port()}/api/")
    delays = await run_until_tries(app, 3)
    assert delays[:3] == [5.0, 10.0, 20.0]
    gc.collect()
    await asyncio.sleep(0)
    text = log_text.getvalue()
    warnings = [line for line in text.splitlines() if "Socket Mode connection failed" in line]
    assert len(warnings) >= 3 and all(line.startswith("WARNING") for line in warnings)
    assert "Traceback" not in text and "ERROR" not in text, text
    assert "Unclosed" not in text


async def test_a_rejected_app_token_stops_the_adapter_with_one_line(
    fake_slack: FakeSlack, tmp_path: Path, log_text: io.StringIO
) -> None:
    fake_slack.app_token = "xapp-the-real-one"  # ours is refused: invalid_auth
    app = app_at(fake_slack, tmp_path, fake_slack.api_url)
    with pytest.raises(SlackApiError):
        await serve_socket_mode(app, "xapp-1-test", sleep=lambda _: asyncio.sleep(0))
    gc.collect()
    await asyncio.sleep(0)
    text = log_text.getvalue()
    assert "Slack rejected the app token (invalid_auth)" in text
    assert "Traceback" not in text and "Unclosed" not in text


async def test_a_cancel_the_sdk_turns_into_a_failure_still_stops_the_retries() -> None:
    # As on Discord's gateway: a cancel that reaches the connect as a timeout must stop the
    # loop, not be retried as one more failed connect.
    from slack_sdk.socket_mode.aiohttp import SocketModeClient

    from bot.chat.slack.socket_mode import open_with_backoff

    connecting = asyncio.Event()

    class TimingOut(SocketModeClient):
        async def issue_new_wss_url(self) -> str:  # type: ignore[override]
            connecting.set()
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                raise TimeoutError("apps.connections.open timed out") from None
            return "wss://never"

    client = TimingOut(app_token="xapp-1-test")
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(0)

    task = asyncio.create_task(open_with_backoff(client, sleep, 8))
    await connecting.wait()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    await client.close()
    assert done == {task} and task.cancelled() and waits == []

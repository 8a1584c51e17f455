"""Socket Mode (the default): `run_slack` connects with the app-level token, acks envelopes.

`apps.connections.open` at the fake Web API hands out a local websocket (FakeSocketMode);
answers still go to the response_url, as in HTTP mode.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.chat.core import Commands
from bot.chat.slack.app import run_slack
from bot.delivery.slack_alert import MUTE_ACTION
from storage import subscriptions as subs
from tests.fakes.slack_api import CHANNEL_ID, FakeSlack
from tests.fakes.slack_bolt_kit import (
    ADMIN,
    NOW,
    RULES,
    TRADER,
    block_actions,
    seed_prices,
    slack_settings,
)
from tests.fakes.slack_socket import FakeSocketMode


@pytest.fixture
async def socket_mode(fake_slack: FakeSlack) -> AsyncIterator[FakeSocketMode]:
    fake = await FakeSocketMode().start()
    fake_slack.socket_url = fake.url
    yield fake
    await fake.stop()


@pytest.fixture
async def running(
    fake_slack: FakeSlack, socket_mode: FakeSocketMode, tmp_path: Path
) -> AsyncIterator[Commands]:
    """run_slack in Socket Mode (no signing secret needed) until the test ends."""
    settings = slack_settings(
        fake_slack,
        slack_mode="socket",
        slack_app_token=fake_slack.app_token,
        slack_signing_secret=None,
    )
    seed_prices(tmp_path / "rotation.db")
    core = Commands.for_path(settings, tmp_path / "rotation.db", rules=RULES, clock=lambda: NOW)
    started = asyncio.Event()
    task = asyncio.create_task(run_slack(settings, core, started=started))
    await asyncio.wait_for(started.wait(), 5)
    await asyncio.wait_for(socket_mode.connected.wait(), 5)
    yield core
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.wait_for(socket_mode.closed.wait(), 5)  # the websocket is closed on stop


async def answers(fake: FakeSlack, count: int) -> list[dict[str, Any]]:
    for _ in range(1000):
        if len(fake.responses) >= count:
            break
        await asyncio.sleep(0.01)
    return [r.payload for r in fake.responses]


async def test_slash_command_envelope_is_acked_then_answered(
    fake_slack: FakeSlack, socket_mode: FakeSocketMode, running: Commands
) -> None:
    payload = {
        "command": "/rot-spread",
        "text": "aaa bbb",
        "user_id": TRADER,
        "channel_id": CHANNEL_ID,
        "team_id": "T000",
        "api_app_id": "A0ROTATION",
        "response_url": fake_slack.response_url(1),
        "trigger_id": "1.2.3",
    }
    envelope = {"envelope_id": "env-1", "type": "slash_commands", "payload": payload}
    await socket_mode.send({**envelope, "accepts_response_payload": True})
    ack = await asyncio.wait_for(socket_mode.acks.get(), 5)
    assert ack["envelope_id"] == "env-1"
    [answer] = await answers(fake_slack, 1)
    assert answer["response_type"] == "in_channel" and "+500 bps" in answer["text"]


async def test_button_envelope_is_acked_and_mutes(
    fake_slack: FakeSlack, socket_mode: FakeSocketMode, running: Commands
) -> None:
    message = {"ts": "1.000001", "channel": CHANNEL_ID, "payload": {"text": "x", "blocks": []}}
    payload = block_actions(MUTE_ACTION, "aaa-ath", ADMIN, message)
    payload["response_url"] = fake_slack.response_url(1)
    await socket_mode.send({"envelope_id": "env-2", "type": "interactive", "payload": payload})
    ack = await asyncio.wait_for(socket_mode.acks.get(), 5)
    assert ack["envelope_id"] == "env-2"
    [answer] = await answers(fake_slack, 1)
    assert answer["text"].startswith("Muted aaa-ath until 2026-03-03 21:00 UTC")
    assert [m.rule_id for m in subs.active_mutes(running.db, NOW)] == ["aaa-ath"]

"""`/rot-rule` through the real bolt app with signed requests, on real IWM/IWB prices."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.chat.core import Commands
from bot.chat.slack.rules import PREVIEW_ACTIONS, RULE_CANCEL_ACTION, RULE_SAVE_ACTION
from storage import chat_rules
from tests.bot.rule_chat_kit import SPREAD_ID, SPREAD_LINE, prices_db, real_prices_file
from tests.fakes.slack_api import CHANNEL_ID, FakeSlack
from tests.fakes.slack_bolt_kit import ADMIN, NOW, TRADER, SlackBot, serve, slack_settings

__all__ = ["prices_db", "real_prices_file"]


@pytest.fixture
async def desk(fake_slack: FakeSlack, prices_db: Path) -> AsyncIterator[SlackBot]:
    settings = slack_settings(fake_slack)
    core = Commands.for_path(settings, prices_db, clock=lambda: NOW)
    async for bot in serve(fake_slack, core, settings):
        yield bot


def as_message(answer: dict[str, Any]) -> dict[str, Any]:
    """The preview as Slack sends it back in a button's payload."""
    payload = {"text": answer["text"], "blocks": answer["blocks"]}
    return {"ts": "1772485200.000100", "channel": CHANNEL_ID, "payload": payload}


def token_of(answer: dict[str, Any]) -> str:
    (actions,) = [b for b in answer["blocks"] if b.get("block_id") == PREVIEW_ACTIONS]
    return str(actions["elements"][0]["value"])


async def propose(desk: SlackBot) -> dict[str, Any]:
    posted = await desk.command("/rot-rule", SPREAD_LINE, user=ADMIN)
    assert posted.status == 200
    return (await desk.answers(1))[0]


async def upload(fake: FakeSlack) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    # The fake runs in its own thread: polling its records is the simple way to wait.
    # The preview's own chart; the track record's fan (issue 23) is a second upload.
    while not _charts(fake) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    [found] = _charts(fake)
    return found


def _charts(fake: FakeSlack) -> list[dict[str, Any]]:
    titled = [u for u in fake.uploads.values() if "title" in u]
    return [u for u in titled if not u["title"].endswith(": track record")]


async def test_preview_shows_toml_backtest_events_buttons_and_a_chart(desk: SlackBot) -> None:
    answer = await propose(desk)
    assert answer["response_type"] == "in_channel"
    header, code, fields, track, context, actions = answer["blocks"]
    assert header["text"]["text"] == f"Preview: New rule {SPREAD_ID}"
    assert code["text"]["text"].startswith(f'```[[rules]]\nid = "{SPREAD_ID}"\n')
    backtest, events = (f["text"] for f in fields["fields"])
    assert backtest.startswith("*Backtest since 2000*\nfired ")
    assert len(events.splitlines()) == 6  # the title and five events
    # Before Save, whether the threshold ever meant anything (issue 23).
    assert track["text"]["text"].startswith("*Track record*: After each past firing, IWM − IWB")
    assert context["elements"][0]["text"].startswith("Save or Cancel before 2026-03-02 21:15")
    assert [(b["text"]["text"], b["action_id"]) for b in actions["elements"]] == [
        ("Save", RULE_SAVE_ACTION),
        ("Cancel", RULE_CANCEL_ACTION),
    ]
    chart = await upload(desk.fake)
    assert chart["channel"] == CHANNEL_ID and chart["bytes"].startswith(b"\x89PNG")
    assert chat_rules.list_rules(desk.core.db) == []


async def test_save_stores_it_and_a_second_press_is_told(desk: SlackBot) -> None:
    answer = await propose(desk)
    message, token = as_message(answer), token_of(answer)
    assert (await desk.press(RULE_SAVE_ACTION, token, ADMIN, message)).status == 200
    _, replaced, said = await desk.answers(3)
    assert replaced["replace_original"] is True
    assert [b.get("block_id") for b in replaced["blocks"]].count(PREVIEW_ACTIONS) == 0
    assert said["response_type"] == "in_channel"
    assert said["text"] == (
        f"Saved new rule {SPREAD_ID}; the service evaluates it from its next check (by <@{ADMIN}>)."
    )
    stored = chat_rules.get_rule(desk.core.db, SPREAD_ID)
    assert stored is not None and stored.created_by == f"slack:{ADMIN}"
    await desk.press(RULE_SAVE_ACTION, token, ADMIN, message)
    late = (await desk.answers(4))[3]
    assert late["response_type"] == "ephemeral"
    assert late["text"] == f"This preview was already saved by slack:{ADMIN}."


async def test_signals_shows_where_each_rule_comes_from(desk: SlackBot) -> None:
    answer = await propose(desk)
    await desk.press(RULE_SAVE_ACTION, token_of(answer), ADMIN, as_message(answer))
    await desk.answers(3)
    await desk.command("/rot-signals", user=TRADER)
    listed = (await desk.answers(4))[3]
    text = "\n".join(b["text"]["text"] for b in listed["blocks"] if b.get("text"))
    assert f"`{SPREAD_ID}` _(chat (slack:{ADMIN}))_" in text
    assert "`rut-all-time-high` _(defaults)_" in text


async def test_cancel_discards(desk: SlackBot) -> None:
    answer = await propose(desk)
    await desk.press(RULE_CANCEL_ACTION, token_of(answer), ADMIN, as_message(answer))
    said = (await desk.answers(3))[2]
    assert said["text"] == f"Discarded {SPREAD_ID} (by <@{ADMIN}>)."
    assert chat_rules.list_rules(desk.core.db) == []


async def test_non_admins_are_refused_also_on_the_buttons(desk: SlackBot) -> None:
    await desk.command("/rot-rule", SPREAD_LINE, user=TRADER)
    [refusal] = await desk.answers(1)
    assert refusal["response_type"] == "ephemeral"
    assert refusal["text"] == (
        f"Only admins can change rules: ask the bot's operator to add your Slack user id "
        f"({TRADER}) to SLACK_ADMIN_IDS."
    )
    await desk.command("/rot-rule", SPREAD_LINE, user=ADMIN)
    answer = (await desk.answers(2))[1]
    await desk.press(RULE_SAVE_ACTION, token_of(answer), TRADER, as_message(answer))
    pressed = (await desk.answers(3))[2]
    assert pressed["response_type"] == "ephemeral"
    assert pressed["text"].startswith("Only admins can change rules")
    assert chat_rules.list_rules(desk.core.db) == []


async def test_malformed_input_is_one_line(desk: SlackBot) -> None:
    await desk.command("/rot-rule", "new spread IWM IWB 42d above 400bps window=2x", user=ADMIN)
    [answer] = await desk.answers(1)
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith(f"rule {SPREAD_ID}: window: ")
    assert "\n" not in answer["text"]


async def test_edit_disable_enable_delete(desk: SlackBot) -> None:
    answer = await propose(desk)
    await desk.press(RULE_SAVE_ACTION, token_of(answer), ADMIN, as_message(answer))
    await desk.answers(3)
    await desk.command("/rot-rule", f"edit {SPREAD_ID} confirm=2", user=ADMIN)
    edited = (await desk.answers(4))[3]
    assert edited["blocks"][0]["text"]["text"] == f"Preview: Changes to {SPREAD_ID}"
    await desk.press(RULE_SAVE_ACTION, token_of(edited), ADMIN, as_message(edited))
    await desk.answers(6)
    assert "confirm = 2" in chat_rules.get_rule(desk.core.db, SPREAD_ID).toml  # type: ignore[union-attr]
    count = 6
    for verb, said in (("disable", "Disabled"), ("enable", "Enabled"), ("delete", "Deleted")):
        await desk.command("/rot-rule", f"{verb} {SPREAD_ID}", user=ADMIN)
        count += 1
        answer = (await desk.answers(count))[-1]
        assert answer["response_type"] == "in_channel"
        assert answer["text"].startswith(f"{said} {SPREAD_ID}")
    assert chat_rules.list_rules(desk.core.db) == []

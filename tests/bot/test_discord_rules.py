"""`/rule` through the real discord.py command tree and dynamic buttons, against the fake API.

Real IWM and IWB prices (../shared/data) give the preview a real backtest since 2000.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from bot.chat.core import Commands
from bot.chat.discord.client import RotationClient
from bot.chat.discord.http_mode import INTERACTIONS_PATH, InteractionsEndpoint
from bot.config import Settings
from bot.delivery.discord import configure_api_base
from bot.rules.stored import rules_in_force
from bot.service.web import mount
from storage import chat_rules
from tests.bot.rule_chat_kit import SPREAD_ID, SPREAD_LINE, prices_db, real_prices_file
from tests.fakes.discord_http_kit import DiscordFront
from tests.fakes.discord_interactions import FakeDiscordApp
from tests.fakes.discord_kit import ADMIN, ALICE, NOW, Harness, assert_no_pings

__all__ = ["prices_db", "real_prices_file"]


@pytest.fixture
async def desk(
    fake_discord_app: FakeDiscordApp, discord_settings: Settings, prices_db: Path
) -> AsyncIterator[Harness]:
    """A logged-in client over real IWM/IWB prices, the rules files' rules and chat rules."""
    configure_api_base(fake_discord_app.api_base)
    core = Commands.for_path(discord_settings, prices_db, clock=lambda: NOW)
    async with RotationClient(core, discord_settings) as client:
        await client.login(fake_discord_app.token)
        yield Harness(client, fake_discord_app)


@pytest.fixture
async def http_desk(desk: Harness) -> AsyncIterator[DiscordFront]:
    """The same client behind the real HTTP interactions endpoint (DISCORD_MODE=http)."""
    key = SigningKey.generate()
    endpoint = InteractionsEndpoint(desk.client, key.verify_key.encode().hex())
    mounted = await mount("127.0.0.1", 0, {("POST", INTERACTIONS_PATH): endpoint.handle})
    front = DiscordFront(desk, endpoint, f"http://127.0.0.1:{mounted.port}{INTERACTIONS_PATH}")
    front.key = key
    yield front
    await mounted.cleanup()


def buttons(message: dict) -> list[dict]:
    return [item for row in message.get("components", []) for item in row["components"]]


async def propose(desk: Harness, line: str = SPREAD_LINE) -> tuple[str, dict]:
    """Run `/rule line` as the admin; the token and the preview message as Discord holds it."""
    token = await desk.command("rule", ADMIN, command=line)
    assert desk.fake.sequence(token) == ["callback:5", "followup"]
    return token, desk.fake.message_json(desk.fake.replies[-1])


async def test_the_command_is_registered_with_one_text_option(desk: Harness) -> None:
    (rule,) = [c for c in desk.fake.synced or [] if c["name"] == "rule"]
    assert [o["name"] for o in rule["options"]] == ["command"]
    assert "admins" in rule["description"]


async def test_preview_shows_toml_backtest_events_chart_and_buttons(desk: Harness) -> None:
    token, message = await propose(desk)
    defer, followup = desk.fake.steps_for(token)
    assert not defer.ephemeral and not followup.ephemeral  # the desk sees the proposal
    embed, fan = followup.message["embeds"]  # the fan of past outcomes: issue 23
    assert fan["image"] == {"url": "attachment://track-record.png"}
    assert followup.files["track-record.png"].startswith(b"\x89PNG")
    assert embed["title"] == f"Preview: New rule {SPREAD_ID}"
    assert embed["description"].startswith(f'```toml\n[[rules]]\nid = "{SPREAD_ID}"\n')
    assert 'type = "spread_threshold"' in embed["description"]
    backtest, events, track = embed["fields"]
    assert backtest["name"] == "Backtest since 2000" and backtest["value"].startswith("fired ")
    assert events["name"] == "Last five events" and len(events["value"].splitlines()) == 5
    # Before Save, whether the threshold ever meant anything (issue 23).
    assert track["name"] == "Track record" and "IWM − IWB spread in bps" in track["value"]
    assert "Past " in track["value"] and " firings since 2000" in track["value"]
    assert embed["image"] == {"url": "attachment://chart.png"}
    assert followup.files["chart.png"].startswith(b"\x89PNG")
    assert embed["footer"]["text"].startswith("Save or Cancel before 2026-03-02 21:15 UTC")
    assert [(b["label"], b["custom_id"][:14]) for b in buttons(message)] == [
        ("Save", "rot:rule:save:"),
        ("Cancel", "rot:rule:cance"),
    ]
    assert chat_rules.list_rules(desk.client.core.db) == []
    assert_no_pings(desk.fake)


async def test_save_stores_it_takes_the_buttons_off_and_says_who(desk: Harness) -> None:
    _, message = await propose(desk)
    save = buttons(message)[0]["custom_id"]
    token = await desk.press(save, message, ADMIN)
    assert desk.fake.sequence(token) == ["callback:6", "edit_original", "followup"]
    edit, said = desk.fake.steps_for(token)[1:]
    assert edit.payload["components"] == []
    assert said.message["content"] == (
        f"Saved new rule {SPREAD_ID}; the service evaluates it from its next check (by admin)."
    )
    db = desk.client.core.db
    assert chat_rules.get_rule(db, SPREAD_ID).created_by == "discord:7"  # type: ignore[union-attr]
    assert SPREAD_ID in [r.id for r in rules_in_force(desk.client.settings, db)]
    again = await desk.press(save, message, ADMIN)
    assert desk.fake.sequence(again) == ["callback:6", "followup"]
    late = desk.fake.steps_for(again)[1]
    assert late.ephemeral
    assert late.message["content"] == "This preview was already saved by discord:7."


async def test_signals_shows_where_each_rule_comes_from(desk: Harness) -> None:
    _, message = await propose(desk)
    await desk.press(buttons(message)[0]["custom_id"], message, ADMIN)
    token = await desk.command("signals", ALICE)
    text = "\n".join(e["description"] for e in desk.fake.steps_for(token)[-1].message["embeds"])
    assert f"**{SPREAD_ID}** (chat (discord:7))" in text
    assert "**rut-all-time-high** (defaults)" in text


async def test_cancel_discards(desk: Harness) -> None:
    _, message = await propose(desk)
    token = await desk.press(buttons(message)[1]["custom_id"], message, ADMIN)
    said = desk.fake.steps_for(token)[-1]
    assert said.message["content"] == f"Discarded {SPREAD_ID} (by admin)."
    assert chat_rules.list_rules(desk.client.core.db) == []


async def test_non_admins_are_refused_privately_also_on_the_buttons(desk: Harness) -> None:
    token = await desk.command("rule", ALICE, command=SPREAD_LINE)
    assert desk.fake.sequence(token) == ["callback:5", "delete_original", "followup"]
    refusal = desk.fake.steps_for(token)[-1]
    assert refusal.ephemeral
    assert refusal.message["content"] == (
        "Only admins can change rules: ask the bot's operator to add your Discord user id (42) "
        "to DISCORD_ADMIN_IDS."
    )
    _, message = await propose(desk)
    pressed = await desk.press(buttons(message)[0]["custom_id"], message, ALICE)
    said = desk.fake.steps_for(pressed)[-1]
    assert said.ephemeral and said.message["content"].startswith("Only admins can change rules")
    assert chat_rules.list_rules(desk.client.core.db) == []


async def test_malformed_input_is_one_private_line(desk: Harness) -> None:
    token = await desk.command("rule", ADMIN, command="new spread IWM IWB 42d above -5bps")
    refusal = desk.fake.steps_for(token)[-1]
    assert refusal.ephemeral
    assert refusal.message["content"].startswith("The threshold is a number of bps")
    token = await desk.command("rule", ADMIN, command=f"{SPREAD_LINE} confirm=0")
    line = desk.fake.steps_for(token)[-1].message["content"]
    assert line == f"rule {SPREAD_ID}: confirm: must be between 1 and 1000, got 0"


async def test_edit_disable_enable_delete(desk: Harness) -> None:
    _, message = await propose(desk)
    await desk.press(buttons(message)[0]["custom_id"], message, ADMIN)
    token = await desk.command("rule", ADMIN, command=f"edit {SPREAD_ID} confirm=2")
    edited = desk.fake.message_json(desk.fake.replies[-1])
    assert edited["embeds"][0]["title"] == f"Preview: Changes to {SPREAD_ID}"
    assert "confirm = 2" in edited["embeds"][0]["description"]
    await desk.press(buttons(edited)[0]["custom_id"], edited, ADMIN)
    db = desk.client.core.db
    assert "confirm = 2" in chat_rules.get_rule(db, SPREAD_ID).toml  # type: ignore[union-attr]
    for verb, said in (("disable", "Disabled"), ("enable", "Enabled"), ("delete", "Deleted")):
        token = await desk.command("rule", ADMIN, command=f"{verb} {SPREAD_ID}")
        step = desk.fake.steps_for(token)[-1]
        assert not step.ephemeral and step.message["content"].startswith(f"{said} {SPREAD_ID}")
    assert chat_rules.list_rules(db) == []


async def test_over_the_http_endpoint_too(http_desk: DiscordFront) -> None:
    token = await http_desk.command("rule", ADMIN, command=SPREAD_LINE)
    assert http_desk.answers[token].json() == {"type": 5}  # deferred in the body, in time
    assert http_desk.answers[token].seconds < 3.0
    assert http_desk.fake.sequence(token) == ["callback:5", "followup"]
    message = http_desk.fake.message_json(http_desk.fake.replies[-1])
    pressed = await http_desk.press(buttons(message)[0]["custom_id"], message, ADMIN)
    assert http_desk.answers[pressed].json() == {"type": 6}
    assert http_desk.fake.sequence(pressed) == ["callback:6", "edit_original", "followup"]
    db = http_desk.harness.client.core.db
    assert chat_rules.get_rule(db, SPREAD_ID) is not None

"""`/rule` in the command core, on real IWM/IWB prices: forms, preview, Save/Cancel, changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.chat.core import Commands
from bot.chat.on_call import make_actor
from bot.chat.parsing import CommandError
from bot.chat.replies import RuleChangeReply, RulePreview
from bot.chat.rule_forms import new_rule_mapping, split_words
from bot.config import load_settings
from signals.evaluate import backtest_rule
from signals.rules import parse_rule
from storage import chat_rules
from storage.db import open_db
from storage.rule_state import load_states
from tests.bot.rule_chat_kit import SPREAD_ID, SPREAD_LINE, prices_db, real_prices_file

__all__ = ["prices_db", "real_prices_file"]

NOW = datetime(2026, 3, 2, 21, 0, tzinfo=UTC)
SETTINGS = load_settings(None, discord_admin_ids=("7",), slack_admin_ids=("UADMIN",))
ADMIN = make_actor(SETTINGS, "discord", "7")
OTHER_ADMIN = make_actor(SETTINGS, "slack", "UADMIN")
TRADER = make_actor(SETTINGS, "discord", "42")


@pytest.fixture
def core(prices_db: Path) -> Commands:
    clock = {"now": NOW}
    commands = Commands(SETTINGS, open_db(prices_db), clock=lambda: clock["now"])
    commands.moved = clock  # type: ignore[attr-defined]
    return commands


def preview(core: Commands, line: str = SPREAD_LINE) -> RulePreview:
    reply = core.rule(ADMIN, split_words(line))
    assert isinstance(reply, RulePreview)
    return reply


def test_the_one_line_form_reads_as_a_spread_threshold() -> None:
    mapping = new_rule_mapping(split_words("spread IWM IWB 42d above 400bps confirm=2"))
    assert mapping == {
        "type": "spread_threshold", "a": "IWM", "b": "IWB", "window": "42d",
        "direction": "up", "threshold_bps": 400, "confirm": 2, "id": SPREAD_ID,
    }  # fmt: skip


def test_list_fields_read_as_lists_whatever_the_quoting() -> None:
    """Chat quoting eats a TOML list's inner quotes; tags (and routing's destinations) still
    arrive as lists, for the rule validation to judge."""
    line = 'high IWM tags=size,breakout destinations=["discord:1","slack:C2"]'
    mapping = new_rule_mapping(split_words(line))
    assert mapping["tags"] == ["size", "breakout"]
    assert mapping["destinations"] == ["discord:1", "slack:C2"]


@pytest.mark.parametrize(
    ("line", "rule_id"),
    [
        ("crossover IWC OEF ytd either", "iwc-oef-ytd-either-crossover"),
        ("high ^RUT", "rut-high"),
        ("rally_from_low symbol=IWC threshold_pct=50", "iwc-rally_from_low"),
        ("high IWM id=mine", "mine"),
    ],
)
def test_a_rule_without_id_is_named_after_what_it_watches(line: str, rule_id: str) -> None:
    assert new_rule_mapping(split_words(line))["id"] == rule_id


def test_preview_shows_the_stored_toml_backtest_events_and_chart(core: Commands) -> None:
    shown = preview(core)
    assert shown.rule_id == SPREAD_ID and shown.action == "new"
    assert shown.toml.startswith(f'[[rules]]\nid = "{SPREAD_ID}"\ntype = "spread_threshold"\n')
    assert "threshold_bps = 400.0\n" in shown.toml
    rule = parse_rule(new_rule_mapping(split_words(SPREAD_LINE)[1:]))
    market_events = backtest_rule(rule, _market(core, rule), start=shown.backtest.since)
    fired = [e for e in market_events if e.kind == "fired"]
    assert shown.backtest.fired == len(fired) > 0  # IWM has beaten IWB by 4 % over 42 days
    assert [e.date for e in shown.last_events] == [e.date for e in market_events[-5:]][::-1]
    assert shown.chart is not None and shown.chart.legs == ("IWM", "IWB")
    assert f"fired {len(fired)} times since 2000" in shown.text
    assert chat_rules.get_rule(core.db, SPREAD_ID) is None  # nothing saved before Save


def _market(core: Commands, rule: object):  # type: ignore[no-untyped-def]
    from bot.service.evaluation import load_market

    return load_market(core.db, [rule])  # type: ignore[list-item]


def test_save_stores_the_rule_with_its_author_and_it_joins_the_rules(core: Commands) -> None:
    shown = preview(core)
    saved = core.save_preview(OTHER_ADMIN, shown.token)
    assert saved == RuleChangeReply(
        "saved", SPREAD_ID, "slack:UADMIN",
        f"Saved new rule {SPREAD_ID}; the service evaluates it from its next check.",
    )  # fmt: skip
    stored = chat_rules.get_rule(core.db, SPREAD_ID)
    assert stored is not None and stored.toml == shown.toml
    assert (stored.created_by, stored.created_at) == ("slack:UADMIN", "2026-03-02T21:00:00+00:00")
    assert SPREAD_ID in core.rule_ids()
    assert core.rule_origins()[SPREAD_ID] == "chat (slack:UADMIN)"
    row = next(r for r in core.signals().rows if r.rule_id == SPREAD_ID)
    assert row.origin == "chat (slack:UADMIN)"


def test_a_second_press_and_cancel_after_save_are_refused(core: Commands) -> None:
    shown = preview(core)
    core.save_preview(ADMIN, shown.token)
    for press in (core.save_preview, core.cancel_preview):
        with pytest.raises(CommandError, match="already saved by discord:7"):
            press(ADMIN, shown.token)


def test_cancel_discards_and_save_after_it_is_refused(core: Commands) -> None:
    shown = preview(core)
    assert core.cancel_preview(ADMIN, shown.token).text == f"Discarded {SPREAD_ID}."
    with pytest.raises(CommandError, match="already cancelled"):
        core.save_preview(ADMIN, shown.token)
    assert chat_rules.list_rules(core.db) == []


def test_an_expired_preview_saves_nothing(core: Commands) -> None:
    shown = preview(core)
    core.moved["now"] = NOW + timedelta(minutes=16)  # type: ignore[attr-defined]
    with pytest.raises(CommandError, match="expired after 15 minutes; nothing was saved"):
        core.save_preview(ADMIN, shown.token)
    assert chat_rules.list_rules(core.db) == []


def test_non_admins_are_refused_and_told_how_to_become_admin(core: Commands) -> None:
    with pytest.raises(CommandError) as refused:
        core.rule(TRADER, split_words(SPREAD_LINE))
    assert refused.value.message == (
        "Only admins can change rules: ask the bot's operator to add your Discord user id (42) "
        "to DISCORD_ADMIN_IDS."
    )
    shown = preview(core)
    with pytest.raises(CommandError, match="Only admins"):
        core.save_preview(TRADER, shown.token)
    with pytest.raises(CommandError, match="Only admins"):
        core.cancel_preview(TRADER, shown.token)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("new spread IWM IWB 42d above 400bps threshold_bps=-3",
         f"rule {SPREAD_ID}: threshold_bps: must be at least 0.0001, got -3"),
        ("new spread IWM IWM 42d above 400bps",
         "rule iwm-iwm-42d-above-400bps: b: must differ from a"),
        ("new spread IWM IWB 42d sideways 400bps", "Say above or below (got `sideways`)."),
        ("new spread IWM IWB 42d above lots", "The threshold is a number of bps"),
        ("new spread IWM IWB 42d above 4bps colour=red",
         "rule iwm-iwb-42d-above-4bps: colour: unknown field; allowed:"),
        ("new wibble a=1", "rule wibble: type: unknown rule type 'wibble'; use one of"),
        ("frobnicate x", "Start with one of new, edit, disable, enable, delete"),
        ("new high ^RUT id=rut-all-time-high", "Rule id rut-all-time-high is taken by the "
         "defaults rules; pick another with id=..."),
        ("edit rut-all-time-high confirm=2", "rut-all-time-high comes from a rules file"),
        ("disable nope", "No rule made in chat is called `nope`. No rules made in chat yet."),
        ('new high IWM name="unclosed', "Unbalanced quote"),
        ("new spread IWM IWB 42d above 400bps destinations=teams:C1",
         f"rule {SPREAD_ID}: destinations: 'teams:C1': unknown platform 'teams'"),
        ("new spread IWM IWB 42d above 400bps destinations=slack:#desk",
         f"rule {SPREAD_ID}: destinations: 'slack:#desk': not a Slack channel id"),
    ],
)  # fmt: skip
def test_malformed_input_is_answered_in_one_line(core: Commands, line: str, message: str) -> None:
    with pytest.raises(CommandError) as refused:
        core.rule(ADMIN, split_words(line))
    assert refused.value.message.startswith(message)
    assert "\n" not in refused.value.message


def test_the_messages_are_the_rules_files_own(core: Commands, tmp_path: Path) -> None:
    """Same validation, same words: the file adds only its `path:line: ` in front."""
    from bot.rules.files import validate_file

    path = tmp_path / "rules.toml"
    path.write_text('[[rules]]\nid = "x"\ntype = "spread_threshold"\na = "IWM"\nb = "IWB"\n'
                    "threshold_bps = -3\n")  # fmt: skip
    (problem,) = validate_file(path)
    with pytest.raises(CommandError) as refused:
        core.rule(ADMIN, split_words("new spread_threshold id=x a=IWM b=IWB threshold_bps=-3"))
    assert problem == f"{path}:6: {refused.value.message}"


def test_edit_previews_the_changed_rule_and_records_who_changed_it(core: Commands) -> None:
    core.save_preview(ADMIN, preview(core).token)
    changed = core.rule(OTHER_ADMIN, split_words(f"edit {SPREAD_ID} confirm=3 name='IWM leads'"))
    assert isinstance(changed, RulePreview) and changed.action == "edit"
    assert 'name = "IWM leads"' in changed.toml and "confirm = 3" in changed.toml
    assert "confirm = 1" in chat_rules.get_rule(core.db, SPREAD_ID).toml  # not yet saved
    core.moved["now"] = NOW + timedelta(minutes=10)  # type: ignore[attr-defined]
    core.save_preview(OTHER_ADMIN, changed.token)
    stored = chat_rules.get_rule(core.db, SPREAD_ID)
    assert stored.toml == changed.toml
    assert (stored.created_by, stored.updated_by) == ("discord:7", "slack:UADMIN")
    assert stored.updated_at == "2026-03-02T21:10:00+00:00"


def test_an_edit_of_a_rule_deleted_meanwhile_saves_nothing(core: Commands) -> None:
    core.save_preview(ADMIN, preview(core).token)
    edit = core.rule(ADMIN, split_words(f"edit {SPREAD_ID} confirm=2"))
    core.rule(OTHER_ADMIN, ["delete", SPREAD_ID])
    with pytest.raises(CommandError, match="was deleted meanwhile; nothing saved"):
        core.save_preview(ADMIN, edit.token)  # type: ignore[union-attr]
    assert chat_rules.list_rules(core.db) == []


def test_edit_refuses_a_new_id_or_type(core: Commands) -> None:
    core.save_preview(ADMIN, preview(core).token)
    with pytest.raises(CommandError, match="id cannot change"):
        core.rule(ADMIN, split_words(f"edit {SPREAD_ID} id=other"))
    with pytest.raises(CommandError, match="type cannot change"):
        core.rule(ADMIN, split_words(f"edit {SPREAD_ID} type=new_high"))


def test_disable_enable_delete(core: Commands) -> None:
    core.save_preview(ADMIN, preview(core).token)
    assert core.rule(ADMIN, ["disable", SPREAD_ID]).text == f"Disabled {SPREAD_ID}."
    assert SPREAD_ID not in core.rule_ids()
    assert "enabled = false" in chat_rules.get_rule(core.db, SPREAD_ID).toml
    assert core.rule(ADMIN, ["disable", SPREAD_ID]).text == f"{SPREAD_ID} is disabled already."
    assert core.rule(ADMIN, ["enable", SPREAD_ID]).text == f"Enabled {SPREAD_ID}."
    assert SPREAD_ID in core.rule_ids()
    deleted = core.rule(OTHER_ADMIN, ["delete", SPREAD_ID])
    assert deleted.text == f"Deleted {SPREAD_ID} (made by discord:7)."
    assert SPREAD_ID not in core.rule_ids()


def test_a_second_new_rule_of_the_same_id_is_refused(core: Commands) -> None:
    first, second = preview(core), preview(core)
    core.save_preview(ADMIN, first.token)
    with pytest.raises(CommandError, match="exists already; change it with /rule edit"):
        core.save_preview(ADMIN, second.token)
    refused = chat_rules.get_preview(core.db, second.token)
    assert refused is not None and refused.outcome is None  # rolled back: still cancellable
    with pytest.raises(CommandError, match="exists already"):
        preview(core)


def test_a_saved_rule_is_primed_silently_by_the_next_check(core: Commands) -> None:
    from bot.rules.stored import rules_in_force
    from bot.service.evaluation import check_rules

    core.save_preview(ADMIN, preview(core, SPREAD_LINE.replace("400", "1")).token)
    rules = rules_in_force(SETTINGS, core.db)
    assert "iwm-iwb-42d-above-1bps" in [rule.id for rule in rules]
    report = check_rules(core.db, rules, now=NOW)
    assert "iwm-iwb-42d-above-1bps" in report.primed
    assert [e for e in report.new_events if e.rule_id == "iwm-iwb-42d-above-1bps"] == []
    assert "iwm-iwb-42d-above-1bps" in load_states(core.db)


def test_a_rule_routed_to_a_platform_that_cannot_post_is_refused(core: Commands) -> None:
    with pytest.raises(CommandError) as refused:
        core.rule(ADMIN, split_words(f"{SPREAD_LINE} destinations=slack:C0DESK001"))
    assert refused.value.message == (
        f"rule {SPREAD_ID}: destinations: slack:C0DESK001: Slack is not configured to post to "
        "channels by id; set SLACK_BOT_TOKEN (a webhook posts to one channel only)"
    )


def test_a_rule_routed_to_a_configured_platform_previews_its_channels(prices_db: Path) -> None:
    settings = SETTINGS.model_copy(update={"slack_bot_token": SecretStr("xoxb-test")})
    commands = Commands(settings, open_db(prices_db), clock=lambda: NOW)
    shown = commands.rule(ADMIN, split_words(f"{SPREAD_LINE} destinations=slack:C0DESK001"))
    assert isinstance(shown, RulePreview)
    assert 'destinations = ["slack:C0DESK001"]' in shown.toml

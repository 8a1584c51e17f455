"""Chat rules on the command line: `rules list` shows origins, `rules export` round-trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.chat.core import Commands
from bot.chat.on_call import make_actor
from bot.chat.replies import RulePreview
from bot.chat.rule_forms import split_words
from bot.cli import _register_commands, app
from bot.config import load_settings
from bot.rules.files import load_rules
from bot.rules.stored import parse_stored, rule_toml
from storage import chat_rules
from storage.db import open_db

if not any(group.name == "rules" for group in app.registered_groups):
    _register_commands()  # the entry point registers them; the tests call the app directly

NOW = datetime(2026, 3, 2, 21, 0, tzinfo=UTC)
SETTINGS = load_settings(None, discord_admin_ids=("7",))
ADMIN = make_actor(SETTINGS, "discord", "7")
LINES = (
    "new spread IWM IWB 42d above 400bps",
    'new high ^RUT id=rut-record name="Small caps: \\"new\\" high — ünïcode \\\\ tab\\t" '
    'tags=["size","breakout"] severity=warning lookback=504',
    "new extreme_since id=ratio-low series='^RUT / ^GSPC' extreme=low since=2005-06-30",
    "new crossover IWC OEF ytd either level=1.5 renotify_minutes=30",
)


@pytest.fixture
def made_in_chat(db_path: Path) -> Path:
    """Four rules made through the core (no prices: previews without a backtest), one disabled."""
    core = Commands(SETTINGS, open_db(db_path), clock=lambda: NOW)
    for line in LINES:
        preview = core.rule(ADMIN, split_words(line))
        assert isinstance(preview, RulePreview)
        assert preview.backtest is None and preview.last_events == ()
        assert "fired" not in preview.text and "no backtest" in preview.text
        core.save_preview(ADMIN, preview.token)
    core.rule(ADMIN, ["disable", "rut-record"])
    core.db.close()
    return db_path


def invoke(db_path: Path, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["--db", str(db_path), *args], env=env)


def test_export_validates_and_round_trips(made_in_chat: Path, tmp_path: Path) -> None:
    out = tmp_path / "chat.toml"
    result = invoke(made_in_chat, "rules", "export", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "wrote 4 chat rule(s)" in result.stdout
    text = out.read_text(encoding="utf-8")
    assert "# made by discord:7 at 2026-03-02T21:00:00+00:00" in text
    validated = invoke(made_in_chat, "rules", "validate", str(out))
    assert validated.exit_code == 0, validated.output
    db = open_db(made_in_chat)
    stored = {r.rule_id: parse_stored(r) for r in chat_rules.list_rules(db)}
    settings = load_settings(None, rules_path=out)
    exported = {r.id: r for r in load_rules(settings, include_disabled=True) if r.id in stored}
    assert exported == stored  # every field, the disabled flag and the odd name included
    assert stored["rut-record"].name == 'Small caps: "new" high — ünïcode \\ tab\\t'
    assert stored["rut-record"].tags == ("size", "breakout")
    assert not stored["rut-record"].enabled
    for rule in stored.values():
        assert rule_toml(rule) == chat_rules.get_rule(db, rule.id).toml  # type: ignore[union-attr]


def test_export_to_stdout_is_the_same_file(made_in_chat: Path, tmp_path: Path) -> None:
    printed = invoke(made_in_chat, "rules", "export").stdout
    out = tmp_path / "chat.toml"
    invoke(made_in_chat, "rules", "export", "-o", str(out))
    assert printed == out.read_text(encoding="utf-8")


def test_export_of_nothing_is_a_valid_empty_file(db_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "none.toml"
    assert invoke(db_path, "rules", "export", "-o", str(out)).exit_code == 0
    assert invoke(db_path, "rules", "validate", str(out)).exit_code == 0


def test_export_to_an_unwritable_place_is_one_line(made_in_chat: Path, tmp_path: Path) -> None:
    result = invoke(made_in_chat, "rules", "export", "-o", str(tmp_path / "no" / "such.toml"))
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and "cannot write" in result.output


def test_list_shows_where_each_rule_comes_from(made_in_chat: Path, tmp_path: Path) -> None:
    own = tmp_path / "rules.toml"
    own.write_text('[[rules]]\nid = "mine"\ntype = "new_high"\nsymbol = "IWM"\n')
    listed = invoke(made_in_chat, "rules", "list", "--json", env={"ROTATION_RULES": str(own)})
    origins = {row["id"]: row["origin"] for row in json.loads(listed.stdout)}
    assert origins["rut-all-time-high"] == "defaults"
    assert origins["mine"] == "file"
    assert origins["rut-record"] == origins["ratio-low"] == "chat (discord:7)"
    table = invoke(made_in_chat, "rules", "list", env={"COLUMNS": "200"}).stdout
    (line,) = [row for row in table.splitlines() if "ratio-low" in row]
    assert "chat (discord:7)" in line

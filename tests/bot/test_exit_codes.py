"""Every command keeps to the exit-code table of docs/exit-codes.md: 0 done, 1 a data or
delivery problem, 2 a usage or configuration error; and says why when it is not 0."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot import calendar
from bot.cli import _register_commands, app, main
from bot.config import load_settings
from bot.rules.files import load_rules
from signals.models import PriceBar
from storage.db import open_db
from storage.prices import upsert_bars

_register_commands()

DISABLE_DEFAULTS = "".join(
    f'[[rules]]\nid = "{rule.id}"\nenabled = false\n\n' for rule in load_rules(load_settings(None))
)
ONE_RULE = '[[rules]]\nid = "x-high"\ntype = "new_high"\nsymbol = "X"\nmin_history = 2\n'
NO_DATA_RULE = '[[rules]]\nid = "y-high"\ntype = "new_high"\nsymbol = "Y"\nmin_history = 2\n'


def invoke(db_path: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--db", str(db_path), *args])


Rules = Callable[..., None]


@pytest.fixture
def rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Rules:
    """Write a rules file of the tables given, every default rule disabled."""

    def write(*tables: str) -> None:
        path = tmp_path / "rules.toml"
        path.write_text(DISABLE_DEFAULTS + "\n".join(tables), encoding="utf-8")
        monkeypatch.setenv("ROTATION_RULES", str(path))

    return write


def store_closes(db_path: Path, symbol: str, sessions: list[date]) -> None:
    db = open_db(db_path)
    bars = [
        PriceBar(symbol, day, close=100 + i % 7, adj_close=100 + i % 7, source="test")
        for i, day in enumerate(sessions)
    ]
    upsert_bars(db, bars)
    db.close()


def recent_sessions(count: int) -> list[date]:
    """The last `count` completed NYSE sessions: data that is current, not STALE."""
    last = calendar.last_completed_session(datetime.now(UTC), timedelta(hours=1))
    return calendar.sessions_between(last - timedelta(days=2 * count), last)[-count:]


def test_check_on_an_empty_database_exits_1_and_says_nothing_was_evaluated(db_path: Path) -> None:
    result = invoke(db_path, "check")
    assert result.exit_code == 1
    defaults = len(load_rules(load_settings(None)))
    assert f"no rule was evaluated on current data ({defaults} NO DATA)" in result.stderr
    assert "NO DATA" in result.stdout  # the table still shows every rule


def test_check_where_every_rule_is_stale_exits_1(db_path: Path, rules: Rules) -> None:
    rules(ONE_RULE)
    store_closes(db_path, "X", recent_sessions(40)[:10])  # ends weeks ago
    result = invoke(db_path, "check")
    assert result.exit_code == 1
    assert "no rule was evaluated on current data (1 STALE)" in result.stderr


def test_check_with_a_current_rule_exits_0_though_another_has_no_data(
    db_path: Path,
    rules: Rules,
) -> None:
    rules(ONE_RULE, NO_DATA_RULE)
    store_closes(db_path, "X", recent_sessions(10))
    result = invoke(db_path, "check")
    assert result.exit_code == 0, result.output
    assert "y-high: NO DATA" in result.stdout.replace("\n", " ")


def test_backtest_with_a_no_data_rule_says_so_and_exits_1(db_path: Path, rules: Rules) -> None:
    rules(ONE_RULE, NO_DATA_RULE)
    store_closes(db_path, "X", recent_sessions(10))
    result = invoke(db_path, "backtest")
    assert result.exit_code == 1
    assert "1 rule(s) NO DATA, not backtested: y-high" in result.stderr
    only_x = invoke(db_path, "backtest", "--rule", "x-high")
    assert only_x.exit_code == 0, only_x.output
    as_json = invoke(db_path, "backtest", "--json")
    assert as_json.exit_code == 1 and as_json.stdout.lstrip().startswith("{")


def test_replay_past_the_data_says_no_rule_was_evaluated_and_exits_1(
    db_path: Path,
    rules: Rules,
) -> None:
    rules(ONE_RULE)
    store_closes(
        db_path,
        "X",
        calendar.sessions_between(date(2025, 1, 2), date(2025, 3, 31)),
    )
    result = invoke(db_path, "run", "--replay", "2025-06-02:2025-06-04")
    assert result.exit_code == 1, result.output
    assert "3 session(s) replayed, 0 alert(s)" in result.stdout
    assert "no rule was evaluated: every rule was NO DATA or STALE" in result.stderr
    within = invoke(db_path, "run", "--replay", "2025-03-03:2025-03-05")
    assert within.exit_code == 0, within.output


@pytest.mark.parametrize("words", [[], ["prices"], ["series"], ["rules"]], ids=repr)
def test_a_group_without_its_command_shows_help_and_exits_2(
    words: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.argv", ["rotation-bot", *words])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2
    shown = capsys.readouterr()
    assert "Usage: rotation-bot" in shown.out + shown.err
    assert "Commands" in shown.out + shown.err

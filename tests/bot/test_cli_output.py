"""Output that reads at 80 columns and in a pipe: ids and words never split, one line per row
when piped, `rules show` as TOML, one replica on plain SQLite."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli import _register_commands, app, common
from bot.config import load_settings
from bot.rules.files import load_rules
from signals.models import PriceBar
from signals.rules import RULE_TYPES, parse_rule
from storage import replicas
from storage.db import open_db
from storage.prices import upsert_bars

_register_commands()
IDS = [rule.id for rule in load_rules(load_settings(None))]
TYPES = {rule.type for rule in load_rules(load_settings(None))}


def invoke(db_path: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--db", str(db_path), *args], env={"COLUMNS": "80"})


@pytest.fixture
def terminal_80(monkeypatch: pytest.MonkeyPatch) -> None:
    """stdout is an 80-column terminal (CliRunner's stdout is not one)."""
    monkeypatch.setattr(common.console, "width", 80)
    monkeypatch.setattr(common.console, "_force_terminal", True)
    monkeypatch.setattr(common.console, "_color_system", None)


@pytest.fixture
def stored(db_path: Path) -> Path:
    db = open_db(db_path)
    day = date(2025, 1, 2)
    upsert_bars(db, [PriceBar("IWC", day, close=1.0, adj_close=1.0, source="test")])
    db.close()
    return db_path


@pytest.mark.parametrize("command", [["check"], ["rules", "list"]], ids=" ".join)
def test_piped_every_rule_is_one_whole_line(stored: Path, command: list[str]) -> None:
    lines = invoke(stored, *command).stdout.splitlines()
    for rule_id in IDS:
        [row] = [line for line in lines if line.split()[:1] == [rule_id]]  # one row, not split
        if command == ["rules", "list"]:
            assert any(kind in row.split() for kind in TYPES)  # relative_crossover whole


@pytest.mark.parametrize("command", [["check"], ["rules", "list"]], ids=" ".join)
def test_at_80_columns_ids_and_words_are_never_split(
    stored: Path, command: list[str], terminal_80: None
) -> None:
    output = invoke(stored, *command).stdout
    # The table's lines; check's reason lines below it (`id: NO DATA: ...`) are not wrapped.
    rows = [line for line in output.splitlines() if line.strip() and ": " not in line]
    assert all(len(line) <= 80 for line in rows), rows
    words = {word for line in rows for word in line.split()}
    assert set(IDS) <= words
    if command == ["rules", "list"]:
        assert TYPES <= words  # `relative_cross` / `over` before
    assert not {w for w in words if w.endswith("-") or (w.startswith("-") and len(w) > 1)} - {"-"}


@pytest.mark.parametrize("terminal", [False, True], ids=["piped", "80 columns"])
def test_outbox_keeps_keys_destinations_and_error_words_whole(
    db_path: Path, terminal: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.bot.test_outbox_cli import seed

    if terminal:
        terminal_80.__wrapped__(monkeypatch)  # type: ignore[attr-defined]
    seed(db_path)
    lines = invoke(db_path, "outbox").stdout.splitlines()
    words = {word for line in lines for word in line.replace("│", " ").split()}
    keys = [w for w in words if w.count(":") == 2 and w.endswith(":fired")]
    assert len(keys) == 3, words  # every alert key whole
    assert {"discord:1", "Missing", "Access", "(code", "50001):"} <= words
    assert len([line for line in lines if ":fired" in line]) == 3  # one line names each row
    if terminal:
        assert all(len(line) <= 80 for line in lines), lines


def test_rules_show_prints_toml_that_reads_back_as_the_rule(db_path: Path) -> None:
    output = invoke(db_path, "rules", "show", "iwc-overtakes-oef-ytd").stdout
    assert "True" not in output and "['rotation', 'size']" not in output
    [table] = tomllib.loads(output)["rules"]
    rule = parse_rule(table)
    assert isinstance(rule, RULE_TYPES["relative_crossover"])
    assert rule == next(r for r in load_rules(load_settings(None)) if r.id == rule.id)
    assert output.startswith("# from: defaults\n# alerts to: the default channels\n")


def test_status_on_sqlite_shows_one_replica_not_every_earlier_run(db_path: Path) -> None:
    db = open_db(db_path)
    start = datetime.now(UTC) - timedelta(hours=5)
    for run in range(4):  # four earlier `rotation-bot run`s, each stopped cleanly
        at = start + timedelta(hours=run)
        row = {"id": f"host:{100 + run}", "host": "host", "pid": 100 + run, "version": "0.1.0",
               "engine": "sqlite", "started_at": at.isoformat()}  # fmt: skip
        replicas.announce(db, row, at)
        replicas.set_role(db, row["id"], "stopped", at + timedelta(minutes=30))
    db.close()
    output = invoke(db_path, "status").stdout
    assert "replicas: 1 (no leader)" in output
    assert "host:103" in output and "host:100" not in output
    assert "replicas" not in " ".join(
        line for line in output.splitlines() if line.strip().startswith("problem")
    )


def test_status_at_80_columns_keeps_each_symbol_with_its_lag(
    db_path: Path, terminal_80: None
) -> None:
    db = open_db(db_path)
    for symbol in ("IJR", "IWB", "IWC", "IWM", "OEF", "QQQ", "RSP", "SPY", "^GSPC", "^RUT"):
        upsert_bars(db, [PriceBar(symbol, date(2025, 1, 2), close=1.0, source="test")])
    db.close()
    output = invoke(db_path, "status").stdout
    lines = output.splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    problem = " ".join(line.strip() for line in lines if "behind)" in line)
    assert "IWC (" in problem  # the stale list, wrapped...
    for line in lines:
        if "behind)" in line or "(" in line:
            assert line.count("(") == line.count(")"), line  # ...never inside "IWC (N behind)"

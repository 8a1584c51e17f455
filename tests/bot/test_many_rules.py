"""Many rules at once: a check shares work among rules but must say what each rule alone says,
and a large rules file still points at the line of a broken rule deep inside it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import _register_commands, app
from bot.config import load_settings
from bot.logging_setup import configure_logging
from bot.rules.files import parse_entries, read_entries
from bot.service.evaluation import CheckReport, check_rules, load_market
from signals.rules import Rule
from storage.db import copy_database, open_db
from tests.rule_mix import generate_rules

_register_commands()

NOW = datetime(2026, 8, 24, 22, 0, tzinfo=UTC)
# The first check sees data to here; the second catches up two years (the Fed's cuts too).
PRIMED_UNTIL = date(2024, 6, 28)


@pytest.fixture(scope="module")
def imported(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with every shared price file and the FRED rates, imported by the CLI."""
    db = tmp_path_factory.mktemp("many") / "base.db"
    for args in (
        ("prices", "import", str(shared_data / "prices")),
        ("series", "import", str(shared_data / "macro" / "fred_rates_daily.csv")),
    ):
        result = CliRunner().invoke(app, ["--db", str(db), *args])
        assert result.exit_code == 0, result.output
    return db


def copied(source: Path, target: Path) -> Path:
    """A consistent copy (the import's last writes may still sit in the WAL file)."""
    copy_database(source, target)
    return target


def generated(count: int) -> list[Rule]:
    rules, problems = parse_entries(read_entries(generate_rules(count), "generated.toml"))
    assert problems == []
    return rules


def prime_then_catch_up(db_file: Path, rules: Sequence[Rule]) -> CheckReport:
    """Prime the rules on data to PRIMED_UNTIL, then check them on everything stored."""
    db = open_db(db_file)
    try:
        early = load_market(db, rules, end=PRIMED_UNTIL)
        check_rules(db, rules, now=NOW, market=early)
        return check_rules(db, rules, now=NOW)
    finally:
        db.close()


def test_a_check_of_many_rules_says_what_each_rule_alone_says(
    imported: Path, tmp_path: Path
) -> None:
    configure_logging(load_settings(None))  # new events are logged: to this test's stderr
    rules = generated(140)  # 20 of each rule type
    together = prime_then_catch_up(copied(imported, tmp_path / "together.db"), rules)
    # One database serves every rule alone: a check reads and writes only its rules' rows.
    apart = copied(imported, tmp_path / "alone.db")
    alone = [prime_then_catch_up(apart, [rule]) for rule in rules]
    assert together.new_events == tuple(e for report in alone for e in report.new_events)
    assert [check.evaluation for check in together.checks] == [
        report.checks[0].evaluation for report in alone
    ]
    # Enough happened for the comparison to mean something: every type fired or reversed.
    assert len(together.new_events) >= 20
    assert {rule.type for rule in rules} == {
        rule.type for rule in rules if any(e.rule_id == rule.id for e in together.new_events)
    }


def test_a_large_file_reports_the_line_of_a_broken_rule_deep_inside(tmp_path: Path) -> None:
    text = generate_rules(10_000)
    start = text.index('id = "gen-09876-')
    rule_id = text[start + 6 : text.index('"', start + 6)]
    broken = text[:start] + 'trigger = "sometimes"\n' + text[start:]
    line = broken.count("\n", 0, start) + 1
    path = tmp_path / "desk.toml"
    path.write_text(broken, encoding="utf-8")
    result = CliRunner().invoke(app, ["rules", "validate", str(path)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path}:{line}: rule {rule_id}: trigger: must be one of episode, once, once_per_bar, "
        "got 'sometimes'"
    ]


def test_dated_checks_on_one_market_keep_only_the_latest_dates_shared_results(
    imported: Path,
) -> None:
    rules = generated(14)
    db = open_db(imported)
    try:
        market = load_market(db, rules)  # a replay checks session after session on one market
        for day in (date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)):
            check_rules(db, rules, as_of=day, now=NOW, persist=False, market=market)
    finally:
        db.close()
    scopes = sorted(key[1] for key in market.memo if key[0] == "as_of" and key[1] is not None)
    assert scopes == [date(2025, 3, 5)]


def test_a_check_of_many_rules_prints_every_rule_as_plain_aligned_text(
    imported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above PLAIN_TABLE_ROWS rows the table is plain text (rich's layout costs seconds)."""
    from bot.cli import signal_cmds

    monkeypatch.setattr(signal_cmds, "PLAIN_TABLE_ROWS", 20)  # the real bound is 500 rows
    rules = tmp_path / "rules.toml"
    rules.write_text(generate_rules(30), encoding="utf-8")
    db = copied(imported, tmp_path / "check.db")
    monkeypatch.setenv("ROTATION_RULES", str(rules))
    result = CliRunner().invoke(app, ["--db", str(db), "check"], terminal_width=60)
    # The shared data ends in 2026-08: every rule is STALE (or NO DATA), so check exits 1.
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    header = next(line for line in lines if line.startswith("rule "))
    assert header.split() == ["rule", "status", "state", "now", "last", "event"]
    rows = [line for line in lines if re.match(r"gen-\S+  ", line)]  # not the reason lines
    assert len(rows) == 30  # one line per rule, never wrapped at the terminal's width
    status_column = header.index("status")
    assert all(row[status_column - 2 : status_column] == "  " for row in rows)


def test_a_check_says_the_same_with_rules_from_the_parse_cache(
    imported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cached rules are the parsed rules: a check reading them prints the same JSON."""
    rules = tmp_path / "rules.toml"
    rules.write_text(generate_rules(70), encoding="utf-8")
    monkeypatch.setenv("ROTATION_RULES", str(rules))
    parsed, cached = copied(imported, tmp_path / "a.db"), copied(imported, tmp_path / "b.db")
    fresh = CliRunner().invoke(app, ["--db", str(parsed), "check", "--json"])
    cache = tmp_path / "b.db.rules-cache"
    cache.write_bytes((tmp_path / "a.db.rules-cache").read_bytes())
    written = cache.stat().st_ino
    from_cache = CliRunner().invoke(app, ["--db", str(cached), "check", "--json"])
    assert cache.stat().st_ino == written  # read, not rebuilt
    assert (from_cache.exit_code, from_cache.stdout) == (fresh.exit_code, fresh.stdout)
    assert '"primed"' in fresh.stdout and fresh.stdout.count('"id"') >= 70

"""The CLI on PostgreSQL: `--db`/ROTATION_DB take a URL, and the backtest matches SQLite's."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli import _register_commands, app
from bot.config import load_settings

_register_commands()

UNREACHABLE = "postgresql://rotation:s3cret-pw@/rotation?host={folder}/no-server"


def invoke(db: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["--db", db, *args])


def test_a_url_setting_stays_a_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ROTATION_DB", "postgresql://bot@db.example:5432/rotation")
    assert load_settings(None).db_path == "postgresql://bot@db.example:5432/rotation"
    # A path stays a path (in a folder that exists: a missing one is refused, issue 24).
    path = str(tmp_path / "rotation.db")
    assert load_settings(None, db_path=path).db_path == Path(path)


def test_another_kind_of_url_is_one_line_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROTATION_DB", "mysql://bot:pw@db.example/rotation")
    result = CliRunner().invoke(app, ["rules", "list"])
    assert result.exit_code == 2
    (line,) = result.output.splitlines()
    assert line == (
        "config error: ROTATION_DB: must be a file path or a postgresql:// URL, not a mysql:// URL"
    )


def test_an_unreachable_server_is_one_line_without_the_password(tmp_path: Path) -> None:
    result = invoke(UNREACHABLE.format(folder=tmp_path), "prices", "show", "IWM")
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: cannot open the database postgresql://rotation:***@/rotation")
    assert "s3cret-pw" not in result.output
    # Never taken for a path: no `postgresql:` folder, no empty SQLite file.
    assert list(Path.cwd().iterdir()) == []


def test_a_replay_needs_a_sqlite_file(pg_url: str) -> None:
    result = invoke(pg_url, "run", "--replay", "2025-01-02:2025-01-31")
    assert result.exit_code == 2
    assert "cannot replay a PostgreSQL URL" in result.stderr


def _import_and_backtest(db: str, data: Path) -> tuple[list[str], float]:
    started = time.perf_counter()
    outputs = []
    for args in (
        ("prices", "import", str(data / "prices")),
        ("series", "import", str(data / "macro" / "fred_rates_daily.csv")),
        ("backtest", "--json"),
        ("check", "--json", "--as-of", "2026-07-31"),
    ):
        result = invoke(db, *args)
        # The shared data has no P/E history: backtest exits 1 for its NO DATA rule (issue 24).
        assert result.exit_code == (1 if args[0] == "backtest" else 0), result.output
        outputs.append(result.stdout)
    return outputs, time.perf_counter() - started


def test_the_full_backtest_on_postgresql_finds_the_same_events_as_on_sqlite(
    shared_data: Path, pg_url: str, db_path: Path
) -> None:
    on_sqlite, sqlite_seconds = _import_and_backtest(str(db_path), shared_data)
    on_postgres, postgres_seconds = _import_and_backtest(pg_url, shared_data)
    backtest = json.loads(on_postgres[2])
    assert sum(len(rule["events"]) for rule in backtest["rules"]) > 20
    assert on_postgres[2:] == on_sqlite[2:]
    # Import summaries differ only in their timing.
    assert [o.split(" in ")[0] for o in on_postgres[:2]] == [
        o.split(" in ")[0] for o in on_sqlite[:2]
    ]
    print(
        f"import+backtest+check: SQLite {sqlite_seconds:.1f}s, PostgreSQL {postgres_seconds:.1f}s"
    )

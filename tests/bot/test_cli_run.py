"""`rotation-bot run` and `status` from the command line: arguments, exit codes, light --help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import _register_commands, app
from tests.conftest import PROJECT_ROOT

# Heavy or optional modules `--help` must not load: the command modules import what they
# need inside their functions (bench/cli_start.py measures the start-up).
NOT_FOR_HELP = (
    "pandas",
    "numpy",
    "sqlite_utils",
    "pydantic",
    "yfinance",
    "signals.models",
    "storage.db",
    "apscheduler",
    "matplotlib",
    "discord",
    "exchange_calendars",
    "slack_sdk",
    "slack_bolt",
    "aiohttp",
    "prometheus_client",
)


def invoke(*args: str) -> tuple[int, str]:
    _register_commands()
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--replay", "2025-01-31"], "FROM:TO"),
        (["--replay", "2025-02-01:2025-01-01"], "is after TO"),
        (["--replay", "2025-11-27:2025-11-27"], "no NYSE session"),
        (["--replay", "1950-01-01:1950-02-01"], "outside the NYSE calendar"),
        (["--speed", "10"], "--speed only applies to --replay"),
    ],
)
def test_bad_run_arguments_fail_with_one_line(args: list[str], message: str) -> None:
    code, output = invoke("run", *args)
    assert code == 2
    assert message in output


def test_replay_needs_an_existing_database(tmp_path: Path) -> None:
    code, output = invoke(
        "--db", str(tmp_path / "none.db"), "run", "--replay", "2025-01-02:2025-01-03"
    )
    assert code == 2
    assert "import or update prices" in output
    assert not (tmp_path / "none.db").exists()


def test_run_with_an_unusable_database_is_one_line(tmp_path: Path) -> None:
    code, output = invoke("--db", str(tmp_path), "run")
    assert code == 2
    assert output.startswith("error: cannot open the database") and "Traceback" not in output


def test_run_with_an_invalid_rules_file_lists_the_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTATION_RULES", str(tmp_path / "missing.toml"))
    code, output = invoke("--db", str(tmp_path / "x.db"), "run")
    assert code == 1
    assert "missing.toml: cannot read" in output and "Traceback" not in output


def test_status_json_reports_degraded_with_exit_1(db_path: Path) -> None:
    code, output = invoke("--db", str(db_path), "status", "--json")
    assert code == 1
    data = json.loads(output)
    assert data["status"] == "degraded"
    assert "service not running (no recent heartbeat)" in data["problems"]
    assert set(data) >= {"expected_session", "symbols", "last_evaluation", "outbox", "service"}


def test_help_does_not_import_the_heavy_modules() -> None:
    probe = (
        "import sys\n"
        "from bot.cli import main\n"
        "sys.argv = ['rotation-bot', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {NOT_FOR_HELP!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"

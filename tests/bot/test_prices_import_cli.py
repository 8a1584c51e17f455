"""`rotation-bot prices import DIR` and `prices show SYMBOL` through the real CLI and SQLite."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli import _register_commands, app
from signals.models import PriceBar
from storage.db import open_db
from storage.prices import count_rows, upsert_bars

DATA = Path(__file__).resolve().parent.parent / "data" / "csv"
FIELDS = {"open": "Open", "high": "High", "low": "Low", "close": "Close", "adj_close": "Adj Close"}

if not any(group.name == "prices" for group in app.registered_groups):
    _register_commands()


def invoke(db_path: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--db", str(db_path), *args])


def rows_with_a_value(path: Path) -> list[dict[str, str]]:
    """Counted independently of the importer: rows with any non-empty cell after Date."""
    with path.open(newline="") as handle:
        return [
            row for row in csv.DictReader(handle) if any(v for k, v in row.items() if k != "Date")
        ]


def test_import_all_shared_prices_then_reimport_changes_nothing(
    shared_data: Path, db_path: Path
) -> None:
    prices = shared_data / "prices"
    result = invoke(db_path, "prices", "import", str(prices))
    assert result.exit_code == 0, result.output
    files = sorted(prices.glob("*.csv"))
    expected = {path.stem.upper(): len(rows_with_a_value(path)) for path in files}
    db = open_db(db_path)
    assert {symbol: count_rows(db, symbol) for symbol in expected} == expected
    assert count_rows(db) == sum(expected.values())
    # Mark every row, so that any rewrite by the second import would show.
    with db.atomic():
        db.execute("UPDATE prices SET fetched_at = '2001-02-03T04:05:06+00:00'")
    db.close()

    again = invoke(db_path, "prices", "import", str(prices))
    assert again.exit_code == 0, again.output
    assert f"{sum(expected.values()):,} rows with a value, 0 rows changed" in again.stdout
    db = open_db(db_path)
    assert count_rows(db) == sum(expected.values())
    stamps = db.execute("SELECT DISTINCT fetched_at FROM prices").fetchall()
    assert stamps == [("2001-02-03T04:05:06+00:00",)]


def assert_show_agrees(db_path: Path, path: Path) -> None:
    result = invoke(db_path, "prices", "show", path.stem, "--tail", "0", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    expected = rows_with_a_value(path)
    assert shown["symbol"] == path.stem.upper()
    assert shown["rows_stored"] == len(expected) == len(shown["rows"])
    for row, line in zip(shown["rows"], expected, strict=True):
        assert row["date"] == line["Date"]
        for key, column in FIELDS.items():
            assert row[key] == (float(line[column]) if line[column] else None), (key, line)
        assert row["volume"] == (int(float(line["Volume"])) if line["Volume"] else None)
        assert (row["final"], row["source"]) == (True, "csv")


def test_show_json_agrees_with_the_files(shared_data: Path, db_path: Path, tmp_path: Path) -> None:
    # A few files with different quirks, linked (not copied) into a folder of their own.
    folder = tmp_path / "some"
    folder.mkdir()
    for name in ("IWC.csv", "IWM.csv", "^GSPC.csv", "^VIX.csv", "QQQ.csv"):
        (folder / name).symlink_to(shared_data / "prices" / name)
    assert invoke(db_path, "prices", "import", str(folder)).exit_code == 0
    for path in sorted(folder.iterdir()):
        assert_show_agrees(db_path, path)


def test_import_fixture_dir_and_show_table(db_path: Path) -> None:
    result = invoke(db_path, "prices", "import", str(DATA / "good"))
    assert result.exit_code == 0, result.output
    assert "2 files, 8 rows with a value, 8 rows changed" in result.stdout
    table = invoke(db_path, "prices", "show", "abc", "--tail", "2")
    assert table.exit_code == 0, table.output
    assert "ABC: last 2 of 5 rows" in table.stdout
    assert "2024-01-09" in table.stdout and "10.45" in table.stdout and "csv" in table.stdout
    assert "2024-01-05" not in table.stdout


def test_show_json_shape(db_path: Path) -> None:
    invoke(db_path, "prices", "import", str(DATA / "good"))
    shown = json.loads(invoke(db_path, "prices", "show", "XYZ", "--tail", "1", "--json").stdout)
    assert shown["symbol"] == "XYZ" and shown["rows_stored"] == 3
    [row] = shown["rows"]
    # Issue 9 added the data-quality status and its note.
    assert list(row) == [
        "date", "open", "high", "low", "close", "adj_close", "volume", "final", "source",
        "fetched_at", "status", "quality_note",
    ]  # fmt: skip
    assert (row["date"], row["adj_close"], row["close"]) == ("2024-01-05", 52.25, None)
    assert (row["status"], row["quality_note"]) == ("ok", None)


def test_provisional_bar_is_shown_as_such(db_path: Path) -> None:
    db = open_db(db_path)
    upsert_bars(db, [PriceBar("IWM", date(2026, 11, 20), close=240.5, final=False, source="yahoo")])
    db.close()
    shown = json.loads(invoke(db_path, "prices", "show", "IWM", "--json").stdout)
    assert [(r["final"], r["source"]) for r in shown["rows"]] == [(False, "yahoo")]
    table = invoke(db_path, "prices", "show", "IWM").stdout
    assert "yahoo*" in table and "provisional" in table


def test_malformed_file_imports_nothing(tmp_path: Path, db_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(DATA / "good" / "ABC.csv", folder / "ABC.csv")
    shutil.copy(DATA / "malformed" / "bad_date.csv", folder / "BAD.csv")
    result = invoke(db_path, "prices", "import", str(folder))
    assert result.exit_code == 1
    assert "BAD.csv, line 4: unparsable date '2024-13-01'" in result.stderr
    assert "nothing imported" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert count_rows(open_db(db_path)) == 0


def test_every_malformed_file_gets_its_own_line(tmp_path: Path, db_path: Path) -> None:
    folder = tmp_path / "in"
    shutil.copytree(DATA / "malformed", folder)
    result = invoke(db_path, "prices", "import", str(folder))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == len(list(folder.glob("*.csv")))
    assert all(line.startswith("error: ") for line in lines)


@pytest.mark.parametrize("make", ["empty_dir", "a_file", "missing"])
def test_bad_directory_is_one_line(tmp_path: Path, db_path: Path, make: str) -> None:
    target = tmp_path / "target"
    if make == "empty_dir":
        target.mkdir()
    elif make == "a_file":
        target.write_text("x")
    result = invoke(db_path, "prices", "import", str(target))
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert str(target) in result.stderr


def test_two_files_for_one_symbol_are_refused(tmp_path: Path, db_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(DATA / "good" / "ABC.csv", folder / "ABC.csv")
    shutil.copy(DATA / "good" / "ABC.csv", folder / "abc.csv")
    result = invoke(db_path, "prices", "import", str(folder))
    assert result.exit_code == 1 and "both hold ABC" in result.stderr


def test_show_unknown_symbol_suggests_close_matches(db_path: Path) -> None:
    empty = invoke(db_path, "prices", "show", "IWM")
    assert empty.exit_code == 1 and "nothing is stored yet" in empty.stderr
    invoke(db_path, "prices", "import", str(DATA / "good"))
    result = invoke(db_path, "prices", "show", "ABD")
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: no cached prices for 'ABD'; did you mean ABC?"


def test_piped_warnings_are_what_rich_would_print(capsys: pytest.CaptureFixture[str]) -> None:
    """Held-back bars are written plainly when stderr is not a terminal: the same bytes as
    rich's line, control codes (a CR or bell in a note) stripped alike; ok bars print nothing."""
    import io

    from rich.console import Console

    from bot.cli.prices_data import print_quality_changes
    from bot.sources.quality import StatusChange, describe

    day = date(2024, 3, 1)
    held = [
        StatusChange("IWM", day, "ok", "suspect", "one-day move of +40.0 %\r\x07 [red]x[/]"),
        StatusChange("^VIX", day, "ok", "discarded", "a slow drift"),
    ]
    print_quality_changes([*held, StatusChange("SPY", day, "suspect", "ok", "confirmed")])
    rich = Console(file=io.StringIO(), stderr=True)
    for change in held:
        rich.print(f"warning: {describe(change)}", markup=False, highlight=False, soft_wrap=True)
    assert capsys.readouterr().err == rich.file.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize("enabled", [True, False])
@pytest.mark.parametrize("folder", ["csv", "missing"])
def test_the_import_leaves_the_garbage_collector_as_it_found_it(
    db_path: Path, tmp_path: Path, enabled: bool, folder: str
) -> None:
    """The import pauses the cyclic collector (objects that live to its end); after it, and
    after a refused import, the collector is on or off as before."""
    import gc

    source = DATA / "good" if folder == "csv" else tmp_path / folder
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        result = invoke(db_path, "prices", "import", str(source))
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
    assert result.exit_code == (0 if folder == "csv" else 1), result.output


def test_a_first_import_loads_neither_pydantic_nor_exchange_calendars(tmp_path: Path) -> None:
    """The import reads its settings as plain values and builds the NYSE calendar from the
    rules (bot/nyse_rules.py): each import would cost a tenth of a first import."""
    import subprocess
    import sys

    probe = (
        "import json, sys\n"
        "from bot.cli import main\n"
        f"sys.argv = ['rotation-bot', '--db', {str(tmp_path / 'new.db')!r}, 'prices', 'import',"
        f" {str(DATA / 'good')!r}]\n"
        "try:\n    main()\nexcept SystemExit as done:\n    assert not done.code, done.code\n"
        "heavy = ('pydantic', 'pydantic_settings', 'bot.settings_model', 'exchange_calendars')\n"
        "print(json.dumps([name for name in heavy if name in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "new.db.nyse-sessions.json").exists()

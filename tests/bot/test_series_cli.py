"""`rotation-bot series import|update|show` through the real CLI, SQLite and a fake FRED."""

from __future__ import annotations

import csv
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli import _register_commands, app
from storage.db import open_db
from storage.series import load_series
from tests.fakes.fred import Failure, FakeFred, serve_fred

SERIES = Path(__file__).resolve().parent.parent / "data" / "series"

if not any(group.name == "series" for group in app.registered_groups):
    _register_commands()


def invoke(db_path: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, ["--db", str(db_path), *args], env=env)


def stored(db_path: Path) -> dict[str, list[float]]:
    db = open_db(db_path)
    try:
        return {sid: values.tolist() for sid, values in load_series(db).items()}
    finally:
        db.close()


def test_import_pe_history_with_an_id(db_path: Path) -> None:
    result = invoke(db_path, "series", "import", str(SERIES / "pe_iwm.csv"), "--id", "pe:IWM")
    assert result.exit_code == 0, result.output
    assert stored(db_path) == {"pe:IWM": [25.1, 22.4, 18.9]}
    shown = json.loads(invoke(db_path, "series", "show", "pe:IWM", "--json").stdout)
    assert shown["series_id"] == "pe:IWM"
    assert [(r["date"], r["value"], r["source"]) for r in shown["rows"]] == [
        ("2020-01-31", 25.1, "csv"),
        ("2020-02-28", 22.4, "csv"),
        ("2020-04-30", 18.9, "csv"),
    ]
    assert set(shown["rows"][0]) == {"date", "value", "source", "fetched_at"}


def test_date_value_file_without_id_uses_the_file_name(db_path: Path) -> None:
    assert invoke(db_path, "series", "import", str(SERIES / "pe_iwm.csv")).exit_code == 0
    assert list(stored(db_path)) == ["pe_iwm"]


def test_wide_file_imports_every_column_or_the_chosen_one(db_path: Path, tmp_path: Path) -> None:
    result = invoke(db_path, "series", "import", str(SERIES / "wide.csv"))
    assert result.exit_code == 0, result.output
    assert stored(db_path) == {"DFF": [5.33, 5.33, 5.32], "DGS10": [3.95, 4.05]}
    other = tmp_path / "other.db"
    assert (
        invoke(other, "series", "import", str(SERIES / "wide.csv"), "--id", "DGS10").exit_code == 0
    )
    assert list(stored(other)) == ["DGS10"]


def test_unknown_column_imports_nothing(db_path: Path) -> None:
    result = invoke(db_path, "series", "import", str(SERIES / "wide.csv"), "--id", "DGS2")
    assert result.exit_code == 1
    assert "no column 'DGS2' (columns: DFF, DGS10)" in result.stderr
    assert stored(db_path) == {}


@pytest.mark.parametrize(
    ("name", "where"),
    [("bad_date.csv", "bad_date.csv, line 3"), ("bad_value.csv", "bad_value.csv, line 3")],
)
def test_malformed_file_is_one_line_and_writes_nothing(
    db_path: Path, name: str, where: str
) -> None:
    result = invoke(db_path, "series", "import", str(SERIES / name), "--id", "X")
    assert result.exit_code == 1
    assert where in result.stderr and "nothing imported" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert stored(db_path) == {}


def test_missing_file_is_one_line(db_path: Path, tmp_path: Path) -> None:
    result = invoke(db_path, "series", "import", str(tmp_path / "nope.csv"))
    assert result.exit_code == 1 and "cannot read" in result.stderr


def test_shared_fred_file_imports_and_reimport_changes_nothing(
    shared_data: Path, db_path: Path
) -> None:
    path = shared_data / "macro" / "fred_rates_daily.csv"
    assert invoke(db_path, "series", "import", str(path)).exit_code == 0
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    counts = {sid: len(values) for sid, values in stored(db_path).items()}
    assert counts == {sid: sum(1 for r in rows if r[sid]) for sid in list(rows[0])[1:]}
    db = open_db(db_path)
    with db.atomic():
        db.execute("UPDATE series SET fetched_at = 'marked'")
    db.close()
    again = invoke(db_path, "series", "import", str(path))
    assert again.exit_code == 0
    assert f"6 series, {sum(counts.values()):,} points, 0 changed" in again.stdout
    db = open_db(db_path)
    assert db.execute("SELECT DISTINCT fetched_at FROM series").fetchall() == [("marked",)]
    db.close()


@pytest.fixture
def fred() -> Iterator[FakeFred]:
    series = {
        "DGS10": [("2024-01-02", "3.95"), ("2024-01-03", "."), ("2024-01-10", "4.02")],
        "DFEDTARU": [("2024-01-02", "5.50"), ("2024-01-10", "5.50")],
    }
    with serve_fred(FakeFred(series=series)) as fake:
        yield fake


def fred_env(fake: FakeFred, ids: str = "DGS10,DFEDTARU") -> dict[str, str]:
    return {
        "FRED_CSV_URL": fake.url,
        "FRED_SERIES": ids,
        "ROTATION_FETCH_RETRIES": "0",
        "FRENCH_5X5_URL": "off",  # FRED only here; the French file: tests/bot/test_french_source.py
    }


def test_update_downloads_configured_series_then_goes_incremental(
    db_path: Path, fred: FakeFred
) -> None:
    result = invoke(db_path, "series", "update", env=fred_env(fred))
    assert result.exit_code == 0, result.output
    assert stored(db_path) == {"DFEDTARU": [5.5, 5.5], "DGS10": [3.95, 4.02]}
    assert fred.requests == [{"id": "DGS10"}, {"id": "DFEDTARU"}]

    fred.series["DGS10"].append(("2024-01-11", "4.05"))
    again = invoke(db_path, "series", "update", env=fred_env(fred))
    assert again.exit_code == 0, again.output
    assert fred.requests[2:] == [
        {"id": "DGS10", "cosd": "2024-01-03"},  # last stored date minus 7 days
        {"id": "DFEDTARU", "cosd": "2024-01-03"},
    ]
    assert stored(db_path)["DGS10"] == [3.95, 4.02, 4.05]


def test_update_with_ids_on_the_command_line(db_path: Path, fred: FakeFred) -> None:
    result = invoke(db_path, "series", "update", "dgs10", env=fred_env(fred))
    assert result.exit_code == 0, result.output
    assert list(stored(db_path)) == ["DGS10"]


def test_update_reports_a_bad_id_and_keeps_the_others(db_path: Path, fred: FakeFred) -> None:
    result = invoke(db_path, "series", "update", env=fred_env(fred, "DGS10,NOSUCH"))
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: NOSUCH: FRED has no series 'NOSUCH' (HTTP 404 Not Found); check the id"
    ]
    assert list(stored(db_path)) == ["DGS10"]


def test_update_server_error_without_retries_left(db_path: Path, fred: FakeFred) -> None:
    fred.fail_next("DGS10", Failure(503))
    result = invoke(db_path, "series", "update", "DGS10", env=fred_env(fred))
    assert result.exit_code == 1
    assert "failed after 1 attempts: HTTP 503" in result.stderr
    assert "Traceback" not in result.output and stored(db_path) == {}


def test_update_without_network_is_one_line_per_series_and_keeps_the_store(
    db_path: Path,
) -> None:
    invoke(db_path, "series", "import", str(SERIES / "wide.csv"))
    before = stored(db_path)
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "FRED_CSV_URL": f"http://127.0.0.1:{port}/fredgraph.csv",
        "FRED_SERIES": "DGS10,DGS2",
        "FRENCH_5X5_URL": "off",
    }
    env["ROTATION_FETCH_RETRIES"] = "0"  # retried like Yahoo (test_fred_source); no real sleeps
    result = invoke(db_path, "series", "update", env=env)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert [line.split(":")[1] for line in lines] == [" DGS10", " DGS2"]
    assert all(f"cannot reach FRED at 127.0.0.1:{port}" in line for line in lines)
    assert "Traceback" not in result.output and stored(db_path) == before


def test_show_finds_ids_in_any_case_and_suggests_close_ones(db_path: Path) -> None:
    invoke(db_path, "series", "import", str(SERIES / "wide.csv"))
    table = invoke(db_path, "series", "show", "dgs10", "--tail", "1")
    assert table.exit_code == 0, table.output
    assert "2024-01-05" in table.stdout and "4.05" in table.stdout
    assert "2024-01-02" not in table.stdout
    missing = invoke(db_path, "series", "show", "DGS1")
    assert missing.exit_code == 1
    assert missing.stderr.strip() == "error: no stored series 'DGS1'; did you mean DGS10?"

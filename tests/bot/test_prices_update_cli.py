"""`rotation-bot prices update` through the real CLI, real yfinance, the fake Yahoo and SQLite."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli import _register_commands, app
from bot.sources.universe import DEFAULT_SYMBOLS
from storage.db import open_db
from storage.prices import count_rows, tail_rows
from storage.series import load_series
from tests.fakes.yahoo import DATA, FakeYahoo, load_chart, slice_chart, start_fake_yahoo

# Past sessions only, so nothing here depends on the real clock (no provisional bars).
IWB = DATA / "chart-IWB-dividend-2026-06-05-to-2026-06-11.json"
RUT = DATA / "chart-RUT-index-2026-11-16-to-2026-11-20.json"

if not any(group.name == "prices" for group in app.registered_groups):
    _register_commands()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeYahoo]:
    for fake in start_fake_yahoo(monkeypatch):
        monkeypatch.setenv("ROTATION_YAHOO_URL", fake.base_url)
        monkeypatch.setenv("ROTATION_FETCH_RETRIES", "0")  # the CLI sleeps for real
        yield fake


def invoke(db_path: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--db", str(db_path), "prices", "update", *args])


def test_update_stores_bars_and_a_second_run_changes_nothing(
    fake: FakeYahoo, db_path: Path
) -> None:
    fake.add_fixture(IWB)
    result = invoke(db_path, "iwb")
    assert result.exit_code == 0, result.output
    assert "1 symbols, 5 bars fetched, 5 rows changed, 0 failed" in result.stdout
    db = open_db(db_path)
    first = tail_rows(db, "IWB", 5)[0]
    assert (first["date"], first["close"], first["adj_close"], first["final"]) == (
        "2026-06-05",
        360.0,
        359.102493,
        1,
    )
    db.close()

    again = invoke(db_path, "IWB")
    assert again.exit_code == 0, again.output
    assert "0 rows changed, 0 failed" in again.stdout


def test_failed_symbols_get_one_line_each_and_exit_1_while_others_are_stored(
    fake: FakeYahoo, db_path: Path
) -> None:
    fake.add_fixture(RUT)
    result = invoke(db_path)  # the configured universe; the fake knows only ^RUT
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    missing = [s for s in DEFAULT_SYMBOLS if s != "^RUT"]
    assert lines == [
        f"error: {s}: unknown symbol: Yahoo has no data for {s} (HTTP 404)" for s in missing
    ]
    db = open_db(db_path)
    assert count_rows(db, "^RUT") == 4 and count_rows(db) == 4


def test_persistent_rate_limit_is_reported(fake: FakeYahoo, db_path: Path) -> None:
    fake.add_fixture(IWB)
    fake.fail("IWB", *[429] * 4)
    result = invoke(db_path, "IWB")
    assert result.exit_code == 1
    failure, hint = result.stderr.strip().splitlines()
    assert failure == "error: IWB: rate limited by Yahoo (HTTP 429) (gave up after 1 attempt)"
    assert hint.startswith("note: To try the bot offline meanwhile")  # issue 24
    assert count_rows(open_db(db_path)) == 0


@pytest.mark.parametrize("bad", ["SP Y", "$SPY", "IWM;DROP", "", "^", "ABCDEFGHIJKLMNOPQ"])
def test_invalid_symbol_is_refused_before_any_request(
    fake: FakeYahoo, db_path: Path, bad: str
) -> None:
    result = invoke(db_path, "IWB", bad)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: invalid symbol {bad!r}")
    assert len(result.stderr.strip().splitlines()) == 1
    assert fake.requests == []


def test_json_summary_names_a_stuck_symbol_and_stores_pe(fake: FakeYahoo, db_path: Path) -> None:
    fake.add_fixture(IWB)  # bars stop in June, while ^RUT reaches November: a stuck feed
    fake.add_fixture(RUT)
    fake.pe["IWB"] = 24.31
    result = invoke(db_path, "IWB", "^RUT", "--pe", "--json")
    assert result.exit_code == 1
    stuck = "partial result: Yahoo's bars stop at 2026-06-11, other symbols reach 2026-11-20"
    assert result.stderr.strip() == f"error: IWB: {stuck}"
    data = json.loads(result.stdout)
    assert data["rows_changed"] == 4 and data["failures"] == {"IWB": stuck}
    assert [(s["symbol"], s["fetched"], s["changed"], s["error"]) for s in data["symbols"]] == [
        ("IWB", 0, 0, stuck),
        ("^RUT", 4, 4, None),
    ]
    assert data["symbols"][1]["last_date"] == "2026-11-20"
    assert [p["series_id"] for p in data["pe"]] == ["pe:IWB"]  # indices have no P/E
    db = open_db(db_path)
    assert count_rows(db, "IWB") == 0
    assert load_series(db, ["pe:IWB"])["pe:IWB"].iloc[-1] == 24.31


def test_empty_download_keeps_the_cached_history(fake: FakeYahoo, db_path: Path) -> None:
    fake.add_fixture(IWB)
    assert invoke(db_path, "IWB").exit_code == 0
    before = tail_rows(open_db(db_path), "IWB", 0)
    fake.add_chart(slice_chart(load_chart(IWB), 0, 1))  # Yahoo now answers with no bars
    result = invoke(db_path, "IWB")
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: IWB: empty result: Yahoo returned no bars since ")
    assert tail_rows(open_db(db_path), "IWB", 0) == before


def test_no_network_is_one_line_per_symbol_and_writes_nothing(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("ROTATION_YAHOO_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("ROTATION_FETCH_RETRIES", "0")
    result = invoke(db_path, "IWM", "^RUT")
    assert result.exit_code == 1
    *lines, hint = result.stderr.splitlines()
    assert [line.split(":")[1] for line in lines] == [" IWM", " ^RUT"]
    assert all(": cannot reach Yahoo Finance (" in line for line in lines)
    # Issue 24: then the offline way on, as the service's first run gives it.
    assert hint.startswith("note: To try the bot offline meanwhile: rotation-bot prices import")
    assert "Traceback" not in result.output
    assert count_rows(open_db(db_path)) == 0


def test_each_retry_is_told_to_the_spinner_with_its_reason() -> None:
    from bot.sources.yahoo import YahooSource

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    told: list[str] = []
    slept: list[float] = []
    source = YahooSource(base_url=f"http://127.0.0.1:{port}", retries=2, sleep=slept.append)
    source.on_retry = told.append
    result = source.fetch({"IWM": date(2026, 6, 1)})
    assert "gave up after 3 attempts" in result.failures["IWM"]
    assert len(told) == len(slept) == 2  # one line per backoff sleep, none after the last try
    assert told[0].startswith("retry 1 in ") and "cannot reach Yahoo Finance" in told[0]
    assert told[1].startswith("retry 2 in ")

"""Issue 9 item 5: a two-month hole in real IWB history, through import, backtest, check, update.

Without the hole guard, IWB cut from 2010-07-01 to 2010-08-31 made the 42-session spread rule
fire on 2010-09-01 and reverse on 2010-09-08 and 2010-10-28, none of which real data has.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli import _register_commands, app
from storage.db import open_db
from storage.prices import count_rows
from tests.corruptions import chart_from_csv, cut_sessions, keep_between
from tests.fakes.yahoo import FakeYahoo, start_fake_yahoo

if not any(group.name == "prices" for group in app.registered_groups):
    _register_commands()

RULE = "iwm-beats-iwb-400bps-42d"
HOLE = (date(2010, 7, 1), date(2010, 8, 31))
REASON = "IWB: 43 sessions missing between 2010-07-01 and 2010-08-31"


def invoke(db_path: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--db", str(db_path), *args])


def prices_dir(shared_data: Path, target: Path, hole: bool) -> Path:
    target.mkdir()
    for name in ("IWB.csv", "IWM.csv"):
        shutil.copy(shared_data / "prices" / name, target / name)
    if hole:
        assert cut_sessions(target / "IWB.csv", *HOLE) == 43
    return target


def imported(shared_data: Path, tmp_path: Path, name: str, hole: bool) -> Path:
    db_path = tmp_path / f"{name}.db"
    result = invoke(
        db_path, "prices", "import", str(prices_dir(shared_data, tmp_path / name, hole))
    )
    assert result.exit_code == 0, result.output
    return db_path


def backtest(db_path: Path) -> dict:
    result = invoke(db_path, "backtest", "--rule", RULE, "--from", "2001-01-01", "--json")
    assert result.exit_code == 0, result.output
    (rule,) = json.loads(result.stdout)["rules"]
    return rule


def events(rule: dict) -> set[tuple[str, str]]:
    return {(event["kind"], event["date"]) for event in rule["events"]}


def test_no_event_is_measured_across_a_two_month_hole(shared_data: Path, tmp_path: Path) -> None:
    clean = backtest(imported(shared_data, tmp_path, "clean", hole=False))
    holed = backtest(imported(shared_data, tmp_path, "holed", hole=True))
    assert events(holed) <= events(clean)  # nothing the real data does not have
    for false_alarm in (("fired", "2010-09-01"), ("reversed", "2010-09-08")):
        assert false_alarm not in events(holed)
    assert clean["reason"] == ""
    assert holed["reason"].startswith(REASON)
    # After the hole the rule is back to real events: those from 2011 on are all there.
    later = {event for event in events(clean) if event[1] >= "2011-02-01"}
    assert later <= events(holed)


def test_check_inside_the_spoiled_stretch_says_which_sessions_are_missing(
    shared_data: Path, tmp_path: Path
) -> None:
    db_path = imported(shared_data, tmp_path, "holed", hole=True)
    result = invoke(db_path, "check", "--as-of", "2010-10-01", "--json")
    assert result.exit_code == 0, result.output
    rules = {rule["id"]: rule for rule in json.loads(result.stdout)["rules"]}
    assert rules[RULE]["status"] == "NO DATA"
    assert rules[RULE]["reason"] == REASON
    assert rules[RULE]["events"] == []


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeYahoo]:
    for fake in start_fake_yahoo(monkeypatch):
        monkeypatch.setenv("ROTATION_YAHOO_URL", fake.base_url)
        monkeypatch.setenv("ROTATION_FETCH_RETRIES", "0")
        yield fake


def test_prices_update_back_fills_the_hole_from_yahoo(
    fake: FakeYahoo, shared_data: Path, tmp_path: Path
) -> None:
    year = (date(2010, 1, 1), date(2010, 12, 31))
    folder = tmp_path / "prices"
    folder.mkdir()
    shutil.copy(shared_data / "prices" / "IWB.csv", folder / "IWB.csv")
    rows = keep_between(folder / "IWB.csv", *year)
    cut = cut_sessions(folder / "IWB.csv", *HOLE)
    db_path = tmp_path / "rotation.db"
    assert invoke(db_path, "prices", "import", str(folder)).exit_code == 0
    fake.add_chart(chart_from_csv(shared_data / "prices" / "IWB.csv", "IWB", *year))

    result = invoke(db_path, "prices", "update", "IWB", "--json")
    assert result.exit_code == 0, result.output
    (item,) = json.loads(result.stdout)["symbols"]
    assert item["holes"] == [REASON] and item["start"] == "2010-07-01"
    assert fake.chart_requests("IWB") == 1  # the hole and the overlap in one request
    assert not item["rebased"]
    db = open_db(db_path)
    assert count_rows(db, "IWB") == rows  # the 43 missing sessions are back
    db.close()
    assert cut == 43

    again = invoke(db_path, "prices", "update", "IWB", "--json")
    (item,) = json.loads(again.stdout)["symbols"]
    assert item["holes"] == [] and item["start"] > "2010-12-01"  # nothing left to fill

"""Issue 19, item 2: a second, independent source (FRED SP500) for ^GSPC's last sessions.

`prices update` through real yfinance and the Yahoo stand-in, then the cross-check through the
FRED stand-in (ROTATION_SECOND_SOURCE=^GSPC=SP500). A real crash day no linked instrument can
confirm (only ^GSPC is stored) is confirmed by FRED at once, not a session later; a close
within the normal daily range that FRED contradicts is held, so no rule fires on it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli import _register_commands, app
from bot.config import load_settings
from bot.rules.files import load_rules
from storage.db import open_db
from storage.prices import bar_status
from tests.corruptions import chart_from_csv
from tests.fakes.fred import FakeFred, serve_fred
from tests.fakes.yahoo import FakeYahoo, start_fake_yahoo

START, CRASH, EVE = date(1987, 6, 1), date(1987, 10, 19), date(1987, 10, 16)

if not any(group.name == "prices" for group in app.registered_groups):
    _register_commands()


@pytest.fixture
def fred(shared_data: Path) -> Iterator[FakeFred]:
    with (shared_data / "prices" / "^GSPC.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if "1987-06" <= r["Date"] <= "1987-10-19"]
    with serve_fred(FakeFred(series={"SP500": [(r["Date"], r["Close"]) for r in rows]})) as fake:
        yield fake


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, fred: FakeFred) -> Iterator[FakeYahoo]:
    for fake in start_fake_yahoo(monkeypatch):
        monkeypatch.setenv("ROTATION_YAHOO_URL", fake.base_url)
        monkeypatch.setenv("ROTATION_FETCH_RETRIES", "0")
        monkeypatch.setenv("ROTATION_HISTORY_START", START.isoformat())
        monkeypatch.setenv("FRED_CSV_URL", fred.url)
        monkeypatch.setenv("ROTATION_SECOND_SOURCE", "^GSPC=SP500")
        yield fake


def update(db_path: Path) -> Result:
    result = CliRunner().invoke(app, ["--db", str(db_path), "prices", "update", "^GSPC"])
    assert result.exit_code == 0, result.output
    return result


def status(db_path: Path, day: date) -> str | None:
    db = open_db(db_path)
    try:
        return bar_status(db, "^GSPC", day)
    finally:
        db.close()


def test_a_real_crash_day_is_confirmed_by_the_second_source(
    fake: FakeYahoo, fred: FakeFred, shared_data: Path, db_path: Path
) -> None:
    fake.add_chart(chart_from_csv(shared_data / "prices" / "^GSPC.csv", "^GSPC", START, CRASH))
    result = update(db_path)
    assert f"^GSPC {CRASH}: confirmed (confirmed by the second source (FRED SP500 224.84))" in (
        " ".join(result.stderr.split())
    )
    assert status(db_path, CRASH) == "confirmed"
    assert any(query.get("id") == "SP500" for query in fred.requests)


def test_the_crash_alert_fires_on_its_day_and_names_the_second_source(
    fake: FakeYahoo, shared_data: Path, db_path: Path, tmp_path: Path, monkeypatch
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        "".join(
            f'[[rules]]\nid = "{r.id}"\nenabled = false\n\n'
            for r in load_rules(load_settings(None))
        )
        + '[[rules]]\nid = "gspc-low"\ntype = "extreme_since"\nseries = "^GSPC"\n'
        + 'extreme = "low"\nsince = "1987-10-16"\n'
    )
    monkeypatch.setenv("ROTATION_RULES", str(rules))
    fake.add_chart(chart_from_csv(shared_data / "prices" / "^GSPC.csv", "^GSPC", START, EVE))
    update(db_path)
    primed = CliRunner().invoke(app, ["--db", str(db_path), "check"])
    assert primed.exit_code == 1, primed.output  # primes; bars from the past: STALE, exit 1
    fake.add_chart(chart_from_csv(shared_data / "prices" / "^GSPC.csv", "^GSPC", START, CRASH))
    update(db_path)
    checked = CliRunner().invoke(app, ["--db", str(db_path), "check", "--json"])
    [event] = json.loads(checked.stdout)["new_events"]
    assert event["date"] == str(CRASH)
    assert "then confirmed by the second source (FRED SP500 224.84)" in event["description"]
    assert ["Data check", "confirmed by a second source"] in event["fields"]


def test_a_close_the_second_source_contradicts_is_held(
    fake: FakeYahoo, shared_data: Path, db_path: Path, tmp_path: Path
) -> None:
    body = chart_from_csv(shared_data / "prices" / "^GSPC.csv", "^GSPC", START, EVE)
    quote = body["chart"]["result"][0]["indicators"]
    for values in (quote["quote"][0]["close"], quote["adjclose"][0]["adjclose"]):
        values[-1] = round(values[-1] * 1.03, 2)  # +3 %: a normal day for the move checks
    fake.add_chart(body)
    result = update(db_path)
    assert status(db_path, EVE) == "suspect"
    line = " ".join(result.stderr.split())
    assert f"^GSPC {EVE}: suspect (second source FRED SP500 has 282.70 on {EVE} (+3.0 %" in line


def test_without_the_setting_nothing_is_asked(
    fake: FakeYahoo, fred: FakeFred, shared_data: Path, db_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("ROTATION_SECOND_SOURCE", "")
    fake.add_chart(chart_from_csv(shared_data / "prices" / "^GSPC.csv", "^GSPC", START, CRASH))
    update(db_path)
    assert fred.requests == [] and status(db_path, CRASH) == "suspect"

"""`spread`, `check`, `backtest` and `rules` through the real CLI, on real SQLite files.

Hand-made bars cover the command contracts; the shared real history checks the default
rules' backtest against facts read independently from the CSV files with the csv module.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from itertools import pairwise
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli import _register_commands, app
from bot.config import load_settings
from bot.rules.files import load_rules
from bot.sources.csv_dir import read_price_csv
from bot.sources.series_csv import read_series_file
from signals.models import PriceBar
from storage.db import open_db
from storage.prices import upsert_bars
from storage.series import upsert_points

if not any(group.name == "rules" for group in app.registered_groups):
    _register_commands()

# Sessions around a New Year holiday (2025-01-01 is absent).
DAYS = [
    date.fromisoformat(d)
    for d in ("2024-12-27", "2024-12-30", "2024-12-31", "2025-01-02", "2025-01-03",
              "2025-01-06", "2025-01-07", "2025-01-08")
]  # fmt: skip
DISABLE_DEFAULTS = "".join(
    f'[[rules]]\nid = "{rule.id}"\nenabled = false\n\n' for rule in load_rules(load_settings(None))
)
TEST_RULES = (
    DISABLE_DEFAULTS
    + '[[rules]]\nid = "x-high"\ntype = "new_high"\nsymbol = "X"\nmin_history = 2\nhysteresis = 0\n'
)


def invoke(db_path: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--db", str(db_path), *args])


def fill(db_path: Path, symbol: str, closes: list[float], start: int = 0) -> None:
    db = open_db(db_path)
    bars = [
        PriceBar(symbol, DAYS[start + i], close=c, adj_close=c, source="test")
        for i, c in enumerate(closes)
    ]
    upsert_bars(db, bars)
    db.close()


@pytest.fixture
def rules_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(TEST_RULES, encoding="utf-8")
    monkeypatch.setenv("ROTATION_RULES", str(path))
    return path


def test_spread_json_gives_each_return_and_the_dates(db_path: Path) -> None:
    fill(db_path, "A", [90, 95, 100, 101, 102, 110, 111, 112])
    fill(db_path, "B", [190, 195, 200, 202, 204, 206, 208, 210])
    result = invoke(db_path, "spread", "a", "b", "--as-of", "2025-01-06", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["a"] == {
        "symbol": "A", "start": "2024-12-31", "end": "2025-01-06",
        "start_value": 100.0, "end_value": 110.0, "return_pct": pytest.approx(10.0),
    }  # fmt: skip
    assert data["b"]["return_pct"] == pytest.approx(3.0)
    assert data["spread_bps"] == pytest.approx(700.0) and data["spread_pp"] == pytest.approx(7.0)
    assert (data["window"], data["basis"], data["as_of"]) == ("ytd", "total", "2025-01-06")
    text = invoke(db_path, "spread", "A", "B", "--window", "2d")
    assert text.exit_code == 0 and "bps" in text.stdout


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["A", "NOPE"], "unknown symbol or series 'NOPE'", 1),
        (["A", "BB"], "unknown symbol or series 'BB'; did you mean B", 1),
        (["A", "B", "--window", "7q"], "unknown window '7q'", 1),
        (["A", "B", "--as-of", "2020-01-01"], "no data on or before 2020-01-01", 1),
        (["A", "B", "--as-of", "2031-01-01"], "no data after 2025-01-08", 1),
        (["A", "B", "--window", "1y"], "too short for window 1y", 1),
        # A value that is not a date or not a choice is a usage error, like an unknown option.
        (["A", "B", "--as-of", "tomorrow"], "is not a date", 2),
        (["A", "B", "--basis", "log"], "is not total or price", 2),
    ],
)
def test_spread_errors_are_one_line_and_nonzero(
    db_path: Path, args: list[str], message: str, code: int
) -> None:
    fill(db_path, "A", [1, 2, 3, 4, 5, 6, 7, 8])
    fill(db_path, "B", [1, 2, 3, 4, 5, 6, 7, 8])
    result = invoke(db_path, "spread", *args)
    assert result.exit_code == code
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_check_persists_and_reports_only_new_events(db_path: Path, rules_env: Path) -> None:
    fill(db_path, "X", [1, 2, 1])
    first = json.loads(invoke(db_path, "check", "--json").stdout)
    (rule,) = [r for r in first["rules"] if r["id"] == "x-high"]
    assert first["primed"] == ["x-high"] and first["new_events"] == []
    assert set(rule) == {
        "id", "type", "name", "status", "reason", "session", "state", "measure", "threshold",
        "unit", "summary", "events", "last_event",
    }  # fmt: skip
    assert (rule["status"], rule["session"], rule["unit"]) == ("STALE", "2024-12-31", "%")
    fill(db_path, "X", [3], start=3)
    second = json.loads(invoke(db_path, "check", "--json").stdout)
    assert [e["dedupe_key"] for e in second["new_events"]] == ["x-high:2025-01-02:fired"]
    assert second["new_events"][0]["title"] == "X closes at a new all-time high: 3.0000"
    assert second["rules"][0]["last_event"]["date"] == "2025-01-02"
    third = invoke(db_path, "check")
    assert "NEW" not in third.stdout and "x-high" in third.stdout
    # The hand-made bars end in 2025: its only rule is STALE, so nothing current was evaluated.
    assert third.exit_code == 1
    assert "no rule was evaluated on current data (1 STALE)" in third.stderr


def test_check_as_of_is_a_dry_run(db_path: Path, rules_env: Path) -> None:
    fill(db_path, "X", [1, 2, 1, 3, 1])
    data = json.loads(invoke(db_path, "check", "--as-of", "2025-01-02", "--json").stdout)
    assert data["rules"][0]["events"][0]["date"] == "2025-01-02"
    assert data["new_events"] == []
    after = json.loads(invoke(db_path, "check", "--json").stdout)
    assert after["primed"] == ["x-high"]  # nothing was saved by the dry run


@pytest.mark.parametrize(
    ("day", "message", "code"),
    [
        ("1990-01-01", "--as-of 1990-01-01 is before the first stored date 2024-12-27", 1),
        ("2030-01-01", "--as-of 2030-01-01 is after the last stored date 2024-12-31", 1),
        ("01/02/2025", "is not a date", 2),  # a usage error
    ],
)
def test_check_as_of_outside_the_data_fails(
    db_path: Path, rules_env: Path, day: str, message: str, code: int
) -> None:
    fill(db_path, "X", [1, 2, 1])
    result = invoke(db_path, "check", "--as-of", day)
    assert result.exit_code == code and message in result.stderr


def test_backtest_json_and_filters(db_path: Path, rules_env: Path) -> None:
    fill(db_path, "X", [1, 2, 1, 3, 1, 4, 1, 5])
    data = json.loads(invoke(db_path, "backtest", "--rule", "x-high", "--json").stdout)
    (rule,) = data["rules"]
    assert [e["date"] for e in rule["events"]] == [
        "2024-12-30",
        "2025-01-02",
        "2025-01-06",
        "2025-01-08",
    ]
    assert set(rule["events"][0]) == {
        "kind", "date", "episode", "title", "measure", "threshold", "unit", "direction",
    }  # fmt: skip
    window = invoke(db_path, "backtest", "--from", "2025-01-01", "--to", "2025-01-03", "--json")
    assert [e["date"] for e in json.loads(window.stdout)["rules"][0]["events"]] == ["2025-01-02"]


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--rule", "nope"], "unknown rule id 'nope'", 1),
        (["--from", "2025-02-01", "--to", "2025-01-01"], "is after --to", 2),  # a usage error
        (["--from", "2030-01-01"], "after the last stored date 2025-01-08", 1),
        (["--to", "1990-01-01"], "before the first stored date 2024-12-27", 1),
    ],
)
def test_backtest_errors(
    db_path: Path, rules_env: Path, args: list[str], message: str, code: int
) -> None:
    fill(db_path, "X", [1, 2, 3, 4, 5, 6, 7, 8])
    result = invoke(db_path, "backtest", *args)
    assert result.exit_code == code and message in result.stderr


def test_rules_validate_and_list(db_path: Path, tmp_path: Path, rules_env: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rules]]\nid = "b"\ntype = "new_high"\nconfirm = 0\n', encoding="utf-8")
    result = invoke(db_path, "rules", "validate", str(bad))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{bad}:4: rule b: confirm: must be between 1 and 1000, got 0",
        f"{bad}:1: rule b: symbol: required",
    ]
    assert invoke(db_path, "rules", "validate").exit_code == 0
    listed = json.loads(invoke(db_path, "rules", "list", "--json").stdout)
    assert listed[-1]["id"] == "x-high" and listed[-1]["unit"] == "%"
    assert [r["enabled"] for r in listed].count(False) == 9


# --- real shared history -------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_db(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("real") / "rotation.db"
    db = open_db(path)
    for symbol in ("^RUT", "^GSPC", "IWC", "OEF", "IWM", "IWB"):
        upsert_bars(db, read_price_csv(shared_data / "prices" / f"{symbol}.csv"))
    for points in read_series_file(shared_data / "macro" / "fred_rates_daily.csv").values():
        upsert_points(db, points)
    db.close()
    return path


def _rows(path: Path, column: str, day: str = "Date") -> list[tuple[str, float]]:
    with path.open(newline="") as handle:
        return [(r[day], float(r[column])) for r in csv.DictReader(handle) if r[column]]


def _expected_rut_highs(path: Path) -> list[str]:
    """First record close after each 2 % pullback from the record (the rule's re-arm)."""
    rows, fired, armed = _rows(path, "Close"), [], True
    record = rows[0][1]
    for position, (day, close) in enumerate(rows[1:], start=1):
        if position >= 251:  # min_history = 252 bars
            if close > record and armed:
                fired.append(day)
                armed = False
            elif close <= record * 0.98:
                armed = True
        record = max(record, close)
    return fired


def _backtest(db: Path, rule: str) -> list[dict]:
    result = invoke(db, "backtest", "--rule", rule, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["rules"][0]["events"]


def test_rut_all_time_highs_match_the_csv(real_db: Path, shared_data: Path) -> None:
    events = _backtest(real_db, "rut-all-time-high")
    expected = _expected_rut_highs(shared_data / "prices" / "^RUT.csv")
    assert [e["date"] for e in events] == expected
    assert len(expected) > 20 and expected[-1] == "2026-08-04"


def test_fed_moves_match_the_csv(real_db: Path, shared_data: Path) -> None:
    rows = _rows(shared_data / "macro" / "fred_rates_daily.csv", "DFEDTARU", day="date")
    changes = [(day, now - before) for (_, before), (day, now) in pairwise(rows) if now != before]
    events = _backtest(real_db, "fed-rate-change")
    assert [(e["date"], e["direction"]) for e in events] == [
        (day, "up" if change > 0 else "down") for day, change in changes
    ]
    assert events[-1]["title"] == "DFEDTARU cut by 25 bps to 3.75%"


def test_iwc_crossover_measures_match_csv_ytd(real_db: Path, shared_data: Path) -> None:
    events = [e for e in _backtest(real_db, "iwc-overtakes-oef-ytd") if e["kind"] == "fired"]
    assert events
    iwc = dict(_rows(shared_data / "prices" / "IWC.csv", "Adj Close"))
    oef = dict(_rows(shared_data / "prices" / "OEF.csv", "Adj Close"))
    for event in events[-5:]:
        day = event["date"]
        year_end = max(d for d in iwc if d < f"{day[:4]}-01-01" and d in oef)
        spread = (iwc[day] / iwc[year_end] - oef[day] / oef[year_end]) * 100
        assert event["measure"] == pytest.approx(spread, abs=1e-9)
        assert event["measure"] > 0 and event["title"].startswith("IWC overtakes OEF YTD")


def test_check_on_real_data(real_db: Path) -> None:
    data = json.loads(invoke(real_db, "check", "--as-of", "2026-07-31", "--json").stdout)
    status = {r["id"]: r["status"] for r in data["rules"]}
    assert status["valuation-gap-widest-since-2008"] == "NO DATA"
    assert status["iwc-overtakes-oef-ytd"] == "OK"
    gap = next(r for r in data["rules"] if r["id"] == "valuation-gap-widest-since-2008")
    assert "ff:pb_small_vs_large: no data stored" in gap["reason"]  # the French file not imported
    assert date.fromisoformat(data["expected_session"]) == date(2026, 7, 31)


@pytest.fixture
def narrow_console(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import common

    monkeypatch.setattr(common.console, "width", 80)
    # An 80-column terminal: piped output is printed at its natural width (test_cli_output.py).
    monkeypatch.setattr(common.console, "_force_terminal", True)
    monkeypatch.setattr(common.console, "_color_system", None)


def test_check_and_rules_list_keep_rule_ids_whole_at_80_columns(
    db_path: Path, narrow_console: None
) -> None:
    fill(db_path, "IWC", [1, 2, 3, 4, 5, 6, 7, 8])
    ids = [rule.id for rule in load_rules(load_settings(None))]
    assert max(len(i) for i in ids) > 25  # long enough to have been split before
    for command in (["check", "--as-of", "2025-01-08"], ["rules", "list"]):
        result = invoke(db_path, *command)
        # Only IWC is stored: no rule is current, which `check` says with exit 1.
        assert result.exit_code == (1 if command[0] == "check" else 0)
        # Table rows fit in 80 columns; the reason lines below the table are not wrapped.
        rows = [line for line in result.stdout.splitlines() if len(line) <= 80]
        for rule_id in ids:
            assert any(f" {rule_id} " in row for row in rows), (command, rule_id)


def test_stale_figures_say_so_beside_the_figure(db_path: Path, rules_env: Path) -> None:
    fill(db_path, "X", [1, 2, 3])  # ends 2024-12-31, long before today's expected session
    fill(db_path, "A", [1, 2, 3, 4, 5, 6, 7, 8])
    fill(db_path, "B", [1, 2, 3, 4, 5, 6, 7, 8])
    spread_out = invoke(db_path, "spread", "A", "B", "--window", "2d").stdout
    assert "(STALE: data to 2025-01-08, expected " in spread_out
    assert "2025-01-08 STALE" in spread_out
    dry = invoke(db_path, "spread", "A", "B", "--window", "2d", "--as-of", "2025-01-08").stdout
    assert "STALE" not in dry  # the date asked for is the one shown
    check_out = " ".join(invoke(db_path, "check").stdout.split())
    assert "(STALE: data to 2024-12-31)" in check_out

"""Issue 19's identity and shape checks on the paths data arrives by (FRED and Yahoo stand-ins).

- FRED's `.` on the day the Fed target changed: the cut is dated that day, not the next weekday.
- A last Yahoo bar taken before the session closed is provisional, never a stored close.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from typer.testing import CliRunner, Result

from bot.cli import _register_commands, app
from bot.sources.series_csv import parse_series_csv
from tests.fakes.fred import FakeFred, serve_fred

FED_RULE = """
[[rules]]
id = "fed-rate-change"
type = "rate_change"
series = "DFEDTARU"
direction = "either"
min_change_bps = 1
"""
CUT_DAY = date(2024, 11, 8)  # a Friday: the target range went from 4.75-5.00 to 4.50-4.75


def invoke(db_path: Path, *args: str, env: dict[str, str]) -> Result:
    _register_commands()
    return CliRunner().invoke(app, ["--db", str(db_path), *args], env=env)


def fed_target(cut_cell: str) -> dict[str, list[tuple[str, str]]]:
    """Three weeks of FRED's daily-7-day target bounds around the cut, `cut_cell` on the day."""
    series: dict[str, list[tuple[str, str]]] = {"DFEDTARU": [], "DFEDTARL": []}
    for offset in range(-14, 10):
        day = CUT_DAY + timedelta(days=offset)
        upper, lower = ("5.00", "4.75") if day < CUT_DAY else ("4.75", "4.50")
        if day == CUT_DAY:
            upper = lower = cut_cell
        series["DFEDTARU"].append((day.isoformat(), upper))
        series["DFEDTARL"].append((day.isoformat(), lower))
    return series


def fed_events(tmp_path: Path, cut_cell: str) -> list[tuple[str, str]]:
    tmp_path.mkdir()
    rules = tmp_path / "rules.toml"
    rules.write_text(FED_RULE)
    with serve_fred(FakeFred(series=fed_target(cut_cell))) as fake:
        env = {
            "FRED_CSV_URL": fake.url,
            "FRED_SERIES": "DFEDTARU,DFEDTARL",
            "ROTATION_FETCH_RETRIES": "0",
            "FRENCH_5X5_URL": "off",
            "ROTATION_RULES": str(rules),
        }
        db_path = tmp_path / "fred.db"
        updated = invoke(db_path, "series", "update", env=env)
        assert updated.exit_code == 0, updated.output
        result = invoke(db_path, "backtest", "--json", env=env)
    # Exit 1: the default price rules have no data here; only the Fed rule is read.
    (rule,) = [r for r in json.loads(result.stdout)["rules"] if r["id"] == "fed-rate-change"]
    return [(event["kind"], event["date"]) for event in rule["events"]]


def test_a_fed_cut_on_a_missing_friday_is_dated_that_friday(tmp_path: Path) -> None:
    """FRED repeats Friday's target on the weekend: a `.` Friday takes Saturday's value."""
    clean = fed_events(tmp_path / "clean", "4.75")
    marked = fed_events(tmp_path / "marked", ".")
    assert [day for _, day in clean] == [CUT_DAY.isoformat()]
    assert marked == clean


def test_only_a_friday_between_daily_points_is_filled() -> None:
    """A weekly series dated Saturdays, or a Friday after a gap, gains no invented point."""
    text = "date,W,D\n2024-11-02,1.0,.\n2024-11-07,.,2.0\n2024-11-08,.,.\n2024-11-09,1.1,2.5\n"
    points = parse_series_csv(text, "f.csv", source="csv")
    assert [p.date.isoformat() for p in points["W"]] == ["2024-11-02", "2024-11-09"]
    assert [(p.date.isoformat(), p.value) for p in points["D"]] == [
        ("2024-11-07", 2.0), ("2024-11-08", 2.5), ("2024-11-09", 2.5)
    ]  # fmt: skip

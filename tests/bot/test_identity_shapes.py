"""Issue 19's identity and shape checks on the paths data arrives by (FRED and Yahoo stand-ins).

- FRED's `.` on the day the Fed target changed: the cut is dated that day, not the next weekday.
- A last Yahoo bar taken before the session closed is provisional, never a stored close.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.calendar import NEW_YORK
from bot.cli import _register_commands, app
from bot.sources.series_csv import parse_series_csv
from storage.db import open_db
from storage.series import flagged_points
from tests.bot.corpus_kit import EXTRA_RULES
from tests.bot.test_yahoo_corpus import FETCHED, FROM, chart, edit, scale
from tests.bot.test_yahoo_corpus import run as yahoo_run
from tests.fakes.fred import FakeFred, serve_fred
from tests.fakes.yahoo import FakeYahoo, start_fake_yahoo

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
    return fed_run(tmp_path, fed_target(cut_cell))[0]


def fed_run(
    tmp_path: Path, series: dict[str, list[tuple[str, str]]]
) -> tuple[list[tuple[str, str]], list[dict]]:
    """`series update` from the FRED stand-in, then the Fed rule's backtest events and the
    points held back (suspect or discarded)."""
    tmp_path.mkdir()
    rules = tmp_path / "rules.toml"
    rules.write_text(FED_RULE)
    with serve_fred(FakeFred(series=series)) as fake:
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
        db = open_db(db_path)
        held = flagged_points(db, ["suspect", "discarded"])
        db.close()
    # Exit 1: the default price rules have no data here; only the Fed rule is read.
    (rule,) = [r for r in json.loads(result.stdout)["rules"] if r["id"] == "fed-rate-change"]
    return [(event["kind"], event["date"]) for event in rule["events"]], held


def test_a_fed_cut_on_a_missing_friday_is_dated_that_friday(tmp_path: Path) -> None:
    """FRED repeats Friday's target on the weekend: a `.` Friday takes Saturday's value."""
    clean = fed_events(tmp_path / "clean", "4.75")
    marked = fed_events(tmp_path / "marked", ".")
    assert [day for _, day in clean] == [CUT_DAY.isoformat()]
    assert marked == clean


QUIET_FRIDAY = date(2024, 3, 15)  # the target held at 5.25-5.50 all month


def quiet_target(upper: str, lower: str) -> dict[str, list[tuple[str, str]]]:
    """March 2024's steady target, `upper`/`lower` on one Friday and its weekend (FRED
    repeats Friday's point on Saturday and Sunday), back to 5.25-5.50 on Monday."""
    series: dict[str, list[tuple[str, str]]] = {"DFEDTARU": [], "DFEDTARL": []}
    for offset in range(-14, 10):
        day = QUIET_FRIDAY + timedelta(days=offset)
        friday_on = 0 <= offset <= 2
        series["DFEDTARU"].append((day.isoformat(), upper if friday_on else "5.50"))
        series["DFEDTARL"].append((day.isoformat(), lower if friday_on else "5.25"))
    return series


@pytest.mark.parametrize(
    ("upper", "lower"),
    [
        ("5.00", "5.25"),  # the upper bound below the lower one
        ("5.75", "5.50"),  # a one-Friday "hike" that only the weekend repeats
    ],
    ids=["upper-below-lower", "weekend-repeats"],
)
def test_a_bad_friday_carried_over_the_weekend_fires_nothing(
    tmp_path: Path, upper: str, lower: str
) -> None:
    """Through the FRED stand-in and `series update`: the weekend points repeating a bad
    Friday are no level holding, so neither the move nor its reversal fires; the Friday and
    its weekend are held back."""
    events, flagged = fed_run(tmp_path / "run", quiet_target(upper, lower))
    assert events == []
    weekend = {(QUIET_FRIDAY + timedelta(days=d)).isoformat() for d in range(3)}
    statuses = {(row["series_id"], row["date"]): row["status"] for row in flagged}
    bounds = ("DFEDTARU", "DFEDTARL")
    assert {(name, day): "discarded" for name in bounds for day in weekend} == statuses, flagged


def test_only_a_friday_between_daily_points_is_filled() -> None:
    """A weekly series dated Saturdays, or a Friday after a gap, gains no invented point."""
    text = "date,W,D\n2024-11-02,1.0,.\n2024-11-07,.,2.0\n2024-11-08,.,.\n2024-11-09,1.1,2.5\n"
    points = parse_series_csv(text, "f.csv", source="csv")
    assert [p.date.isoformat() for p in points["W"]] == ["2024-11-02", "2024-11-09"]
    assert [(p.date.isoformat(), p.value) for p in points["D"]] == [
        ("2024-11-07", 2.0), ("2024-11-08", 2.5), ("2024-11-09", 2.5)
    ]  # fmt: skip


# -- a partial session through the Yahoo stand-in ---------------------------------------------

RECORD_DAY = "2026-06-12"  # a real ^RUT all-time high in the shared data


@pytest.fixture
def yahoo(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeYahoo]:
    for fake in start_fake_yahoo(monkeypatch):
        monkeypatch.setenv("ROTATION_YAHOO_URL", fake.base_url)
        monkeypatch.setenv("ROTATION_FETCH_RETRIES", "0")
        monkeypatch.setenv("ROTATION_HISTORY_START", FROM)
        yield fake


def serve(fake: FakeYahoo, shared: Path, last: str, taken: datetime, factor: float = 1.0) -> None:
    """Charts up to `last` whose meta says Yahoo took them at `taken`; the last bar scaled."""
    for symbol in FETCHED:
        body = chart(shared, symbol, last)
        body["chart"]["result"][0]["meta"]["regularMarketTime"] = int(taken.timestamp())
        edit(body, last, scale(factor))
        fake.add_chart(body)


def update_and_check(db_path: Path) -> tuple[Result, set[tuple[str, str, str]]]:
    update = yahoo_run(db_path, "prices", "update", *FETCHED)
    assert update.exit_code == 0, update.output
    checked = yahoo_run(db_path, "check", "--json")
    events = json.loads(checked.stdout)["new_events"]
    return update, {(e["rule_id"], e["kind"], e["date"]) for e in events}


def new_york(day: str, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(hour, minute), tzinfo=NEW_YORK)


def test_a_bar_taken_before_the_close_fires_nothing_until_the_close(
    yahoo: FakeYahoo, shared_data: Path, tmp_path: Path
) -> None:
    """14:05 on the record day, 1 % above the real close: provisional, then the real close."""
    db_path = tmp_path / "partial.db"
    serve(yahoo, shared_data, "2026-06-11", new_york("2026-06-11", 16, 0))
    update_and_check(db_path)
    serve(yahoo, shared_data, RECORD_DAY, new_york(RECORD_DAY, 14, 5), factor=1.01)
    update, events = update_and_check(db_path)
    assert not [e for e in events if e[2] == RECORD_DAY]
    notes = [line for line in update.stderr.splitlines() if "partial session" in line]
    assert len(notes) == len(FETCHED), update.stderr
    assert "taken at 14:05 New York, before the 16:00 close" in notes[0]

    serve(yahoo, shared_data, RECORD_DAY, new_york(RECORD_DAY, 16, 0))
    update, events = update_and_check(db_path)
    assert ("rut-all-time-high", "fired", RECORD_DAY) in events
    assert "partial session" not in update.stderr
    assert stored_close(db_path, RECORD_DAY) == (real_close(shared_data, RECORD_DAY), True)


def stored_close(db_path: Path, day: str) -> tuple[float, bool]:
    shown = json.loads(yahoo_run(db_path, "prices", "show", "^RUT", "--json").stdout)
    row = next(r for r in shown["rows"] if r["date"] == day)
    return row["close"], row["final"]


def real_close(shared: Path, day: str) -> float:
    with (shared / "prices" / "^RUT.csv").open(newline="") as handle:
        return next(float(r["Close"]) for r in csv.DictReader(handle) if r["Date"] == day)


# -- a rate that parts from its twin (DGS3MO and ^IRX), through file imports -------------------

BILL_DAYS = ("2024-11-19", "2024-11-20", "2024-11-21")  # 10y-3m inverted by 16-40 bps then
RATE_RULES = ("curve-10y-3m-uninverts", "bill-yield-jumps")


def bill_copy(shared: Path, root: Path, shift: float) -> Path:
    """^IRX and DGS10/DGS3MO from 2024-05 to 2025-01; DGS3MO moved by `shift` on BILL_DAYS."""
    (root / "prices").mkdir(parents=True)
    with (shared / "prices" / "^IRX.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    keep = [rows[0], *[r for r in rows[1:] if "2024-05-01" <= r[0] <= "2025-01-31"]]
    with (root / "prices" / "^IRX.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows(keep)
    with (shared / "macro" / "fred_rates_daily.csv").open(newline="") as handle:
        macro = list(csv.DictReader(handle))
    lines = ["date,DGS10,DGS3MO"]
    for row in macro:
        if "2024-05-01" <= row["date"] <= "2025-01-31" and row["DGS3MO"]:
            bill = float(row["DGS3MO"]) + (shift if row["date"] in BILL_DAYS else 0.0)
            lines.append(f"{row['date']},{row['DGS10']},{bill:.2f}")
    (root / "rates.csv").write_text("\n".join(lines) + "\n")
    (root / "rules.toml").write_text(EXTRA_RULES)
    return root


def rate_events(root: Path) -> tuple[set[tuple[str, str, str]], Result]:
    env = {"ROTATION_RULES": str(root / "rules.toml")}
    db_path = root / "rates.db"
    assert invoke(db_path, "prices", "import", str(root / "prices"), env=env).exit_code == 0
    imported = invoke(db_path, "series", "import", str(root / "rates.csv"), env=env)
    assert imported.exit_code == 0, imported.output
    rules = json.loads(invoke(db_path, "backtest", "--json", env=env).stdout)["rules"]
    events = {
        (r["id"], e["kind"], e["date"]) for r in rules if r["id"] in RATE_RULES for e in r["events"]
    }
    return events, imported


def test_a_bill_rate_50_bps_low_for_three_sessions_alerts_nothing(
    shared_data: Path, tmp_path: Path
) -> None:
    """Below the 75 bps jump limit, but ^IRX (the same bill from Yahoo) did not move."""
    clean, _ = rate_events(bill_copy(shared_data, tmp_path / "clean", 0.0))
    events, imported = rate_events(bill_copy(shared_data, tmp_path / "low", -0.5))
    assert events == clean
    assert "from its usual spread to ^IRX" in imported.output

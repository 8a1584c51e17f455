"""The valuation gap on the shared French library files: the measure, vintages, the default rule.

The measure is checked against a computation written here from the CSV text alone (no code of
ours parses it); the rule runs through the real CLI and `check_rules` on a real SQLite file.
"""

from __future__ import annotations

import json
import logging
import zipfile
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from bot.chat.signal_queries import signal_detail
from bot.cli import _register_commands, app
from bot.config import load_settings
from bot.rules.files import load_rules
from bot.service.evaluation import check_rules, load_market
from bot.sources.base import SourceError
from bot.sources.french_csv import FrenchFile, read_french_file
from bot.sources.valuation import store_valuation, valuation_points
from signals.evaluate import backtest_rule
from storage.db import open_db
from storage.rule_state import load_states
from storage.series import load_series, vintages

if not any(group.name == "series" for group in app.registered_groups):
    _register_commands()

RULE = "valuation-gap-widest-since-2008"
GROUPS = {"micro": range(0, 5), "small": range(5, 15), "large": range(15, 25)}


@pytest.fixture(scope="module")
def valuation_dir() -> Path:
    from tests.conftest import SHARED_DATA

    folder = SHARED_DATA / "valuation"
    if not (folder / "25_Portfolios_5x5_CSV_202510.zip").is_file():
        pytest.skip(f"the French library files are not in {folder} (see its README)")
    return folder


def invoke(db_path: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--db", str(db_path), *args])


@pytest.fixture(scope="module")
def both_vintages(valuation_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A database that imported 202412 then 202510 through the CLI, and what each printed."""
    db_path = tmp_path_factory.mktemp("valuation") / "rotation.db"
    printed = {}
    for vintage in ("202412", "202510"):
        result = invoke(db_path, "series", "import", str(zip_of(valuation_dir, vintage)))
        assert result.exit_code == 0, result.output
        printed[vintage] = result.stdout
    return {"db_path": db_path, "printed": printed}


def zip_of(folder: Path, vintage: str) -> Path:
    return folder / f"25_Portfolios_5x5_CSV_{vintage}.zip"


def csv_tables(zip_path: Path) -> dict[str, dict[str, list[float]]]:
    """Every table of the CSV as {title: {YYYYMM: cells}}, read with plain string splitting."""
    with zipfile.ZipFile(zip_path) as archive:
        lines = archive.read(archive.namelist()[0]).decode("latin-1").split("\r\n")
    tables = {}
    for at, line in enumerate(lines):
        if not line.startswith(","):
            continue
        title, back = [], at - 1
        while lines[back].strip():
            title.insert(0, lines[back].strip())
            back -= 1
        rows, row = {}, at + 1
        while row < len(lines) and lines[row].strip():
            cells = lines[row].split(",")
            rows[cells[0].strip()] = [float(cell) for cell in cells[1:]]
            row += 1
        tables[" ".join(title)] = rows
    return tables


def pick(tables: dict[str, dict[str, list[float]]], words: str) -> dict[str, list[float]]:
    return next(rows for title, rows in tables.items() if words in title)


def price_to_book(tables: dict, month: str) -> dict[str, float]:
    """P/B per size group at the end of `month`, written from the method in the docs."""
    returns, firms = pick(tables, "Value Weighted Returns -- Monthly"), pick(tables, "Number of")
    size, book_to_market = pick(tables, "Average Market Cap"), pick(tables, "BE_FYt-1/ME_June")
    year = int(month[:4]) if int(month[4:]) >= 7 else int(month[:4]) - 1
    held = [m for m in returns if f"{year}07" <= m <= month]
    found = {}
    for group, columns in GROUPS.items():
        market = book = 0.0
        for p in columns:
            start = firms[f"{year}07"][p] * size[f"{year}07"][p]
            book += book_to_market[f"{year}07"][p] * start
            for m in held:
                start *= 1 + returns[m][p] / 100
            market += start
        found[group] = market / book
    return found


MONTHS = ["195206", "200807", "200811", "202003", "202406", "202412"]


def stored_values(db_path: Path) -> dict[str, pd.Series]:
    db = open_db(db_path)
    try:
        return load_series(db)
    finally:
        db.close()


def test_measure_matches_an_independent_computation(
    valuation_dir: Path, both_vintages: dict
) -> None:
    tables = csv_tables(zip_of(valuation_dir, "202510"))
    series = stored_values(both_vintages["db_path"])
    for month in [*MONTHS, "202510"]:
        day = pd.Timestamp(month[:4] + "-" + month[4:]) + pd.offsets.MonthEnd(0)
        pb = price_to_book(tables, month)
        assert series["ff:pb_small"][day] == pytest.approx(pb["small"], rel=1e-12)
        assert series["ff:pb_large"][day] == pytest.approx(pb["large"], rel=1e-12)
        expected = pb["small"] / pb["large"]
        assert series["ff:pb_small_vs_large"][day] == pytest.approx(expected, rel=1e-12)
        micro = pb["micro"] / pb["large"]
        assert series["ff:pb_micro_vs_large"][day] == pytest.approx(micro, rel=1e-12)
    assert len(series["ff:pb_small_vs_large"]) == 1192  # 1926-07 to 2025-10, every month


def test_a_new_vintage_revises_history_and_says_so(
    both_vintages: dict, valuation_dir: Path
) -> None:
    printed = both_vintages["printed"]
    assert "CRSP vintage 202412; 1182 new month(s)" in printed["202412"]
    assert "revised" not in printed["202412"]
    assert "CRSP vintage 202510; 10 new month(s)" in printed["202510"]
    said = " ".join(printed["202510"].split())
    assert "revised: ff:pb_small_vs_large: 1,182 months revised (1926-07-31 to 2024-12-31)" in said
    db = open_db(both_vintages["db_path"])
    try:
        assert [v["vintage"] for v in vintages(db, "french:25_Portfolios_5x5")] == [
            "202412",
            "202510",
        ]
    finally:
        db.close()
    old = price_to_book(csv_tables(zip_of(valuation_dir, "202412")), "202406")
    new = stored_values(both_vintages["db_path"])["ff:pb_small_vs_large"]["2024-06-30"]
    assert new != pytest.approx(old["small"] / old["large"], rel=1e-9)  # the new vintage won
    assert new == pytest.approx(0.40611, abs=5e-6)


def test_an_older_vintage_is_refused(both_vintages: dict, valuation_dir: Path) -> None:
    result = invoke(
        both_vintages["db_path"], "series", "import", str(zip_of(valuation_dir, "202412"))
    )
    assert result.exit_code == 1
    assert "vintage 202412 is older than the stored 202510; nothing stored" in result.stderr


def cut(file: FrenchFile, last: str) -> FrenchFile:
    """The file as if its data ended at `last` (monthly tables only)."""
    tables = tuple(
        replace(t, frame=t.frame[t.frame.index <= pd.Timestamp(last)]) for t in file.tables
    )
    return replace(file, tables=tables)


def revised_down(file: FrenchFile, month: str) -> FrenchFile:
    """The file with the small caps' returns of `month` revised to -30 %: a record low then."""
    tables = []
    for table in file.tables:
        if table.title.startswith("Average Value Weighted Returns -- Monthly"):
            frame = table.frame.copy()
            frame.loc[pd.Timestamp(month), frame.columns[5:15]] = -30.0
            table = replace(table, frame=frame)
        tables.append(table)
    return replace(file, tables=tuple(tables))


def test_a_revision_of_old_months_alone_never_fires(
    valuation_dir: Path, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules = [r for r in load_rules(load_settings(None)) if r.id == RULE]
    now = datetime(2025, 1, 20, 22, tzinfo=UTC)
    db = open_db(db_path)
    try:
        first = read_french_file(zip_of(valuation_dir, "202412"))
        store_valuation(db, first)
        assert check_rules(db, rules, now=now).new_events == ()
        before = load_states(db)[RULE]
        revised = revised_down(replace(first, vintage="202501"), "2024-11-30")
        with caplog.at_level(logging.INFO, logger="bot.sources.valuation"):
            result = store_valuation(db, revised)
        assert {r.day for r in result.revisions} == {date(2024, 11, 30), date(2024, 12, 31)}
        assert "ff:pb_small_vs_large: 2 months revised" in caplog.text
        # Re-stepped, the revised November would be a record low; live never steps it again.
        market = load_market(db, rules)
        assert [e.date for e in backtest_rule(rules[0], market, date(2024, 11, 1))] == [
            date(2024, 11, 30)
        ]
        again = check_rules(db, rules, now=now)
        assert again.new_events == () and load_states(db)[RULE] == before
    finally:
        db.close()


def test_absurd_values_are_refused_whole(valuation_dir: Path) -> None:
    file = read_french_file(zip_of(valuation_dir, "202412"))
    tables = []
    for table in file.tables:
        if "BE_FYt-1/ME_June" in table.title:
            frame = table.frame.copy()
            frame.loc[frame.index.year == 2019] = 1e-7  # book ~ 0: P/B in the millions
            table = replace(table, frame=frame)
        tables.append(table)
    with pytest.raises(SourceError, match="absurd price-to-book"):
        valuation_points(replace(file, tables=tuple(tables)))


def test_backtest_since_2008_and_the_alert(both_vintages: dict) -> None:
    db_path = both_vintages["db_path"]
    result = invoke(db_path, "backtest", "--rule", RULE, "--from", "2008-01-01", "--json")
    assert result.exit_code == 0, result.output
    events = json.loads(result.stdout)["rules"][0]["events"]
    assert [(e["kind"], e["date"]) for e in events] == [
        ("fired", "2008-07-31"),
        ("fired", "2018-10-31"),
        ("fired", "2023-10-31"),
        ("fired", "2024-04-30"),
        ("fired", "2025-02-28"),
    ]
    values = stored_values(db_path)["ff:pb_small_vs_large"]
    for event in events:  # each is below every earlier month since 2008
        day = pd.Timestamp(event["date"])
        earlier = values[(values.index >= "2008-01-01") & (values.index < day)]
        assert event["measure"] == values[day] < earlier.min()
    last = events[-1]
    title = "small-cap P/B / large-cap P/B at its lowest since 1935-08-31"
    assert last["title"].startswith(title)
    assert "(February 2025 data)" in last["title"]


def test_alert_fields_chart_and_staleness(both_vintages: dict) -> None:
    db = open_db(both_vintages["db_path"])
    try:
        rules = [r for r in load_rules(load_settings(None)) if r.id == RULE]
        market = load_market(db, rules)
        event = backtest_rule(rules[0], market, date(2025, 2, 1))[0]
        fields = dict(event.fields)
        assert fields["Below the prior low"] == "2.43%"  # 0.3962 vs 0.4061 on 2024-06-30
        assert fields["Prior lowest since 2008-01-01"] == "0.4061 on 2024-06-30"
        assert fields["Data month"] == "February 2025"
        assert "price-to-book" in fields["Data"] and "French" in fields["Data"]
        assert "CRSP vintage 202510" in fields["Data"] and "1-2 month lag" in fields["Data"]
        chart = event.chart
        assert chart is not None and chart.start == date(2000, 1, 1)
        assert (chart.since_line, chart.reference_date) == (date(2008, 1, 1), date(2024, 6, 30))
        # Monthly data: October's value is not stale in December, only once November's is late.
        fresh = check_rules(db, rules, now=datetime(2025, 12, 31, 22, tzinfo=UTC), persist=False)
        late = check_rules(db, rules, now=datetime(2026, 1, 30, 22, tzinfo=UTC), persist=False)
    finally:
        db.close()
    assert fresh.checks[0].evaluation.status == "OK"
    assert late.checks[0].evaluation.status == "STALE"
    assert "more than 75 days before 2026-01-30" in late.checks[0].evaluation.reason


def test_signal_reads_it_like_any_rule(both_vintages: dict) -> None:
    db = open_db(both_vintages["db_path"])
    try:
        (rule,) = [r for r in load_rules(load_settings(None)) if r.id == RULE]
        detail = signal_detail(db, rule, datetime(2025, 12, 1, 22, tzinfo=UTC), {}, 0)
    finally:
        db.close()
    assert (detail.row.status, detail.row.session) == ("OK", date(2025, 10, 31))
    assert detail.backtest is not None and detail.backtest.fired == 5
    assert detail.backtest.last_fired == date(2025, 2, 28)
    assert detail.chart is not None and detail.chart.legs == ("ff:pb_small_vs_large",)
    assert "ff:pb_small_vs_large 0.3698 vs prior low 0.3734" in detail.text

"""Suspect bars live: held back, confirmed one session late, discarded, accepted or rejected.

The history is the real ^RUT file cut at 2024-03-12; the bar of 2024-03-13 is replaced by a
+30 % close (a fake all-time high that no linked instrument confirms), then the next session
either holds that level or goes back to the real one.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.chat.core import Commands
from bot.cli import _register_commands, app
from bot.config import load_settings
from bot.rules.files import load_rules
from storage.db import open_db

CUT, JUMP, NEXT = "2024-03-12", "2024-03-13", "2024-03-14"
ONLY_RUT_HIGH = "".join(
    f'[[rules]]\nid = "{rule.id}"\nenabled = false\n\n'
    for rule in load_rules(load_settings(None))
    if rule.id != "rut-all-time-high"
)


def invoke(db_path: Path, *args: str) -> Result:
    _register_commands()
    return CliRunner().invoke(app, ["--db", str(db_path), *args])


@pytest.fixture
def rut(shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A prices directory holding ^RUT up to CUT, and the rules file enabling one rule."""
    rules = tmp_path / "rules.toml"
    rules.write_text(ONLY_RUT_HIGH)
    monkeypatch.setenv("ROTATION_RULES", str(rules))
    folder = tmp_path / "prices"
    folder.mkdir()
    with (shared_data / "prices" / "^RUT.csv").open(newline="") as handle:
        rows = [row for row in csv.reader(handle) if row[0] <= CUT or row[0] == "Date"]
    write(folder, rows)
    return folder


def write(folder: Path, rows: list[list[str]]) -> None:
    with (folder / "^RUT.csv").open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def append(folder: Path, day: str, close: float) -> None:
    with (folder / "^RUT.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    write(folder, [*rows, [day, "", "", "", f"{close}", f"{close}", ""]])


def check(db_path: Path) -> dict:
    result = invoke(db_path, "check", "--json")
    report = json.loads(result.stdout)
    # Exit 1 when no rule is current (these 2024 bars are STALE today): issue 24's exit codes.
    current = any(rule["status"] == "OK" for rule in report["rules"])
    assert result.exit_code == (0 if current else 1), result.output
    return report


def imported(db_path: Path, folder: Path) -> Result:
    result = invoke(db_path, "prices", "import", str(folder))
    assert result.exit_code == 0, result.output
    return result


def with_suspect_bar(db_path: Path, folder: Path) -> None:
    imported(db_path, folder)
    assert check(db_path)["primed"] == ["rut-all-time-high"]
    append(folder, JUMP, 2700.0)
    result = imported(db_path, folder)
    assert f"warning: ^RUT {JUMP}: suspect (one-day move of +30.7 %" in result.stderr
    checked = check(db_path)
    assert checked["new_events"] == []  # never fires on the suspect bar
    [rule] = [r for r in checked["rules"] if r["id"] == "rut-all-time-high"]
    assert rule["session"] == CUT and f"^RUT {JUMP} held back as suspect" in rule["reason"]


def test_a_confirmed_bar_fires_one_session_late_and_says_so(rut: Path, db_path: Path) -> None:
    with_suspect_bar(db_path, rut)
    append(rut, NEXT, 2710.0)
    imported(db_path, rut)
    [event] = check(db_path)["new_events"]
    assert (event["rule_id"], event["date"], event["kind"]) == ("rut-all-time-high", JUMP, "fired")
    assert "Confirmed one session late: the move of ^RUT on 2024-03-13" in event["description"]
    assert ["Data check", "confirmed one session late"] in event["fields"]


def test_a_reverted_tick_is_discarded_and_never_fires(rut: Path, db_path: Path) -> None:
    with_suspect_bar(db_path, rut)
    append(rut, NEXT, 2031.18)
    result = imported(db_path, rut)
    assert f"^RUT {JUMP}: discarded (one-day move of +30.7 % reverted" in result.stderr
    assert check(db_path)["new_events"] == []
    shown = json.loads(invoke(db_path, "prices", "show", "^RUT", "--tail", "2", "--json").stdout)
    assert [row["status"] for row in shown["rows"]] == ["discarded", "ok"]


def test_suspect_bars_show_in_prices_show_status_and_the_status_command(
    rut: Path, db_path: Path
) -> None:
    with_suspect_bar(db_path, rut)
    table = invoke(db_path, "prices", "show", "^RUT", "--tail", "2")
    assert f"! {JUMP} suspect: one-day move of +30.7 % with no linked" in table.stdout
    status = json.loads(invoke(db_path, "status", "--json").stdout)
    assert [(row["symbol"], row["date"]) for row in status["suspect"]] == [("^RUT", JUMP)]
    text = invoke(db_path, "status").stdout
    assert "suspect, held back until confirmed: 1" in text and f"^RUT     {JUMP}" in text
    db = open_db(db_path)
    reply = Commands(load_settings(None), db).status()
    assert "suspect, held back until confirmed: 1" in reply.lines
    assert reply.health.suspect[0]["symbol"] == "^RUT"


def test_a_person_accepts_or_rejects_a_bar(rut: Path, db_path: Path) -> None:
    with_suspect_bar(db_path, rut)
    accepted = invoke(db_path, "prices", "accept", "^rut", JUMP)
    assert accepted.exit_code == 0 and f"^RUT {JUMP}: suspect -> accepted" in accepted.stdout
    [event] = check(db_path)["new_events"]  # accepted: fires at once
    assert event["date"] == JUMP
    rejected = invoke(db_path, "prices", "reject", "^RUT", JUMP)
    assert f"^RUT {JUMP}: accepted -> rejected" in rejected.stdout
    imported(db_path, rut)  # the same file again: a person's verdict stands
    shown = json.loads(invoke(db_path, "prices", "show", "^RUT", "--tail", "1", "--json").stdout)
    assert shown["rows"][0]["status"] == "rejected"
    missing = invoke(db_path, "prices", "reject", "^RUT", "2024-03-16")
    assert missing.exit_code == 1
    assert missing.stderr.strip() == "error: no stored bar or point of ^RUT on 2024-03-16"


def test_a_fed_target_change_waits_for_the_next_point(tmp_path: Path, db_path: Path) -> None:
    series = tmp_path / "DFEDTARU.csv"
    series.write_text("date,DFEDTARU\n2024-09-16,5.5\n2024-09-17,5.5\n2024-09-18,5.0\n")
    assert invoke(db_path, "series", "import", str(series)).exit_code == 0
    rules = tmp_path / "fed.toml"
    rules.write_text(
        "".join(
            f'[[rules]]\nid = "{r.id}"\nenabled = false\n\n'
            for r in load_rules(load_settings(None))
            if r.id != "fed-rate-change"
        )
    )
    env = {"ROTATION_RULES": str(rules)}
    run = CliRunner().invoke(app, ["--db", str(db_path), "check", "--json"], env=env)
    assert json.loads(run.stdout)["new_events"] == []
    series.write_text(series.read_text() + "2024-09-19,5.0\n")
    invoke(db_path, "series", "import", str(series))
    run = CliRunner().invoke(app, ["--db", str(db_path), "check", "--json"], env=env)
    [event] = json.loads(run.stdout)["new_events"]
    assert (event["date"], event["direction"]) == ("2024-09-18", "down")
    assert "Confirmed one session late" in event["description"]


def test_review_judges_bars_stored_before_the_checks_existed(rut: Path, db_path: Path) -> None:
    imported(db_path, rut)
    db = open_db(db_path)  # as an older version stored it: a x10 tick, status ok
    db.execute(
        "UPDATE prices SET close = close * 10, adj_close = adj_close * 10 WHERE date = ?", [CUT]
    )
    db.conn.commit()
    result = invoke(db_path, "prices", "review")
    assert result.exit_code == 0 and "1 status change(s)" in result.stdout
    assert f"warning: ^RUT {CUT}: suspect (one-day move of +" in result.stderr
    assert "0 status change(s)" in invoke(db_path, "prices", "review").stdout

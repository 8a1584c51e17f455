"""Issue 19, item 5: a bar resolved after its rules read past it brings back what it blocked.

IWM's close of 2020-02-11, 3 % high, fires a 5-session IWM-IWB spread (+270 bps). Held (Stooq
disagrees, or a person rejected it), the rule steps past it on 02-12. Resolved later (accepted;
a rejected value the vendor corrects), the next check steps the rule again from 02-11: the
event fires once, late, saying why, even when that check is killed before it records anything.
A resolution changes IWM's digest, so the rule's stored evaluation is not reused. A bar
disputed days before a real ^RUT crash does not delay the crash alert (the approach of
stopping a rule before its first held bar did), and accepting it later repeats nothing.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.market import load_market
from bot.rules.files import load_rules
from signals.check_inputs import leaf_digest
from storage.db import open_db
from tests.bot.test_second_source_evidence import (
    SPREAD_RULE,
    SPREAD_START,
    bars,
    invoke,
    new_events,
    only_rule,
    scaled_chart,
)
from tests.fakes.stooq import FakeStooq, rows_from_prices, serve_stooq
from tests.fakes.yahoo import FakeYahoo, start_fake_yahoo

EVE, NEXT = date(2020, 2, 11), date(2020, 2, 12)
RUT_START, CRASH = date(2019, 12, 2), date(2020, 3, 16)
LATE_ACCEPTED = "held as suspect until a person accepted it (second source Stooq iwm.us"
STEPPED_AGAIN = f"after the rule had read past it; it was evaluated again from {EVE}."
PROJECT = Path(__file__).resolve().parents[2]


@contextmanager
def held_by_stooq_then_read_past(
    shared_data: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FakeYahoo, FakeStooq]]:
    """IWM's 02-11 close 3 % high, held by Stooq; 02-12 stored and checked (stepped past)."""
    iwm, iwb = (shared_data / "prices" / f"{name}.csv" for name in ("IWM", "IWB"))
    rows = rows_from_prices(iwm, SPREAD_START, NEXT)
    with serve_stooq(FakeStooq(symbols={"iwm.us": rows})) as stooq:
        for fake in start_fake_yahoo(monkeypatch):
            monkeypatch.setenv("ROTATION_YAHOO_URL", fake.base_url)
            monkeypatch.setenv("ROTATION_FETCH_RETRIES", "0")
            monkeypatch.setenv("ROTATION_HISTORY_START", SPREAD_START.isoformat())
            monkeypatch.setenv("STOOQ_CSV_URL", stooq.url)
            monkeypatch.setenv("ROTATION_SECOND_SOURCE", "IWM=stooq:iwm.us")
            for end in (date(2020, 2, 10), EVE, NEXT):
                fake.add_chart(scaled_chart(iwm, "IWM", SPREAD_START, end, {EVE: 1.03}))
                fake.add_chart(scaled_chart(iwb, "IWB", SPREAD_START, end, {}))
                assert invoke(db_path, "prices", "update", "IWM", "IWB").exit_code == 0
                assert new_events(db_path) == []
            yield fake, stooq
    monkeypatch.setenv("ROTATION_SECOND_SOURCE", "")


def iwm_digest(db_path: Path) -> str:
    db = open_db(db_path)
    try:
        rules = [rule for rule in load_rules(load_settings(None)) if rule.enabled]
        return leaf_digest(load_market(db, rules), "IWM")
    finally:
        db.close()


def killed_check(db_path: Path, point: str) -> None:
    """`rotation-bot check` in a subprocess that SIGKILLs itself at `point`."""
    code = "import sys; from bot.cli import main; sys.exit(main())"
    argv = [sys.executable, "-c", code, "--db", str(db_path), "check"]
    env = {**os.environ, "ROTATION_TEST_CRASH_AT": point}
    done = subprocess.run(argv, cwd=PROJECT, env=env, capture_output=True, timeout=120, check=False)
    assert done.returncode == -9, done.stderr


def test_an_accepted_bar_read_past_fires_its_event_late_once_even_after_a_kill(
    shared_data: Path, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_rule(tmp_path, monkeypatch, SPREAD_RULE)
    with held_by_stooq_then_read_past(shared_data, db_path, monkeypatch):
        before = iwm_digest(db_path)
    assert invoke(db_path, "prices", "accept", "IWM", str(EVE)).exit_code == 0
    assert iwm_digest(db_path) != before  # the stored evaluation is not reused

    killed_check(db_path, "evaluated")  # stepped again, nothing recorded: the rewind stays
    events = new_events(db_path)
    kinds = [(event["date"], event["kind"]) for event in events]
    assert kinds == [(str(EVE), "fired"), (str(NEXT), "reversed")]
    fired, reversed_ = events
    assert LATE_ACCEPTED in fired["description"]
    assert ["Data check", "accepted by a person"] in fired["fields"]
    said = f"Alerted late: the bar of IWM on {EVE} was accepted by a person on "
    assert said in reversed_["description"]
    assert STEPPED_AGAIN in reversed_["description"]
    assert new_events(db_path) == []  # a second check repeats nothing


def test_a_close_the_second_source_later_agrees_with_fires_late_and_says_so(
    shared_data: Path, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_rule(tmp_path, monkeypatch, SPREAD_RULE)
    with held_by_stooq_then_read_past(shared_data, db_path, monkeypatch) as (_, stooq):
        # Stooq corrects its 02-11 row to Yahoo's close: the next refresh confirms the bar.
        stooq.symbols["iwm.us"] = [
            (*row[:4], f"{float(row[4]) * 1.03:.2f}", row[5]) if row[0] == str(EVE) else row
            for row in stooq.symbols["iwm.us"]
        ]
        assert invoke(db_path, "prices", "update", "IWM").exit_code == 0
    events = new_events(db_path)
    assert [(event["date"], event["kind"]) for event in events] == [
        (str(EVE), "fired"),
        (str(NEXT), "reversed"),
    ]
    fired, reversed_ = events
    assert "was held as suspect, then confirmed by the second source (Stooq" in fired["description"]
    said = f"the bar of IWM on {EVE} was confirmed by the second source (Stooq iwm.us "
    assert said in reversed_["description"] and STEPPED_AGAIN in reversed_["description"]
    assert new_events(db_path) == []


def write_files(folder: Path, shared_data: Path, end: date, times: float) -> Path:
    """IWM and IWB files from the shared data to `end`, IWM's 02-11 close times `times`."""
    folder.mkdir(exist_ok=True)
    for name in ("IWM", "IWB"):
        with (shared_data / "prices" / f"{name}.csv").open(newline="") as handle:
            rows = list(csv.reader(handle))
        kept = [rows[0]] + [r for r in rows[1:] if SPREAD_START.isoformat() <= r[0] <= str(end)]
        for row in kept[1:]:
            if name == "IWM" and row[0] == str(EVE):
                row[4], row[5] = (f"{float(value) * times:.4f}" for value in row[4:6])
        with (folder / f"{name}.csv").open("w", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows(kept)
    return folder


def test_a_rejected_bar_the_vendor_corrects_fires_late_and_says_so(
    shared_data: Path, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_rule(tmp_path, monkeypatch, SPREAD_RULE)
    folder = tmp_path / "files"
    for end, times in ((date(2020, 2, 10), 1.0), (EVE, 0.5), (NEXT, 0.5)):
        assert (
            invoke(
                db_path, "prices", "import", str(write_files(folder, shared_data, end, times))
            ).exit_code
            == 0
        )
        if end == EVE:  # half the close: a bad bar; a person rejects it
            assert invoke(db_path, "prices", "reject", "IWM", str(EVE)).exit_code == 0
        assert new_events(db_path) == []
    # The vendor corrects 02-11 (3 % up, a real-looking day): the bar is ok again.
    assert (
        invoke(
            db_path, "prices", "import", str(write_files(folder, shared_data, NEXT, 1.03))
        ).exit_code
        == 0
    )
    events = new_events(db_path)
    assert [(event["date"], event["kind"]) for event in events] == [
        (str(EVE), "fired"),
        (str(NEXT), "reversed"),
    ]
    for event in events:
        said = f"the bar of IWM on {EVE} was rejected, then corrected by the source on "
        assert said in event["description"]
        assert STEPPED_AGAIN in event["description"]
        assert ["Data check", "rejected, then corrected by the source"] in event["fields"]
    assert new_events(db_path) == []


def test_a_bar_disputed_days_before_a_real_crash_does_not_delay_its_alert(
    shared_data: Path,
    db_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ^RUT's 03-11 close 3 % high (Stooq disagrees: held); the real -14 % of 03-16, a new
    # low since 03-13, confirmed by Stooq, fires on its day; accepting 03-11 repeats nothing.
    rut_low = (
        '[[rules]]\nid = "rut-low"\ntype = "extreme_since"\nseries = "^RUT"\n'
        'extreme = "low"\nsince = "2020-03-13"\n'
    )
    only_rule(tmp_path, monkeypatch, rut_low)
    disputed, prices = date(2020, 3, 11), shared_data / "prices" / "^RUT.csv"
    rows = rows_from_prices(prices, RUT_START, CRASH)
    with serve_stooq(FakeStooq(symbols={"^rut": rows})) as stooq:
        for fake in start_fake_yahoo(monkeypatch):
            monkeypatch.setenv("ROTATION_YAHOO_URL", fake.base_url)
            monkeypatch.setenv("ROTATION_FETCH_RETRIES", "0")
            monkeypatch.setenv("ROTATION_HISTORY_START", RUT_START.isoformat())
            monkeypatch.setenv("STOOQ_CSV_URL", stooq.url)
            monkeypatch.setenv("ROTATION_SECOND_SOURCE", "^RUT=stooq:^rut")
            checked = []
            for end in (date(2020, 3, 13), CRASH):
                fake.add_chart(scaled_chart(prices, "^RUT", RUT_START, end, {disputed: 1.03}))
                assert invoke(db_path, "prices", "update", "^RUT").exit_code == 0
                checked.append(new_events(db_path))
    assert checked[0] == []
    [crash] = checked[1]
    assert crash["date"] == str(CRASH)  # on time, though 03-11 is still held
    assert "confirmed by the second source (Stooq ^rut 1,037.42)" in crash["description"]
    assert bars(db_path, "^RUT")[str(disputed)]["status"] == "suspect"
    assert invoke(db_path, "prices", "accept", "^RUT", str(disputed)).exit_code == 0
    monkeypatch.setenv("ROTATION_LOG_LEVEL", "INFO")
    checked = invoke(db_path, "check", "--json")
    assert f"rut-low stepped again from {disputed}" in checked.stderr
    assert json.loads(checked.stdout)["new_events"] == []  # the crash alert is on record

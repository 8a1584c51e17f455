"""Rewind marks stay bounded (issue 19's follow-up): one row per bar, pruned by the check.

- A provisional bar held as suspect and rewritten by every refresh (the real yfinance against
  the Yahoo stand-in, a desk refreshing all afternoon: ^RUT 50 % up, moving a little each
  time) is one row, which the next check prunes: no rule had read that session.
- An accepted bar a rule had read past: `status` counts it pending; a check killed just after
  its commit has consumed it (the row gone with the saved state, the events on record), and
  the next check repeats nothing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from storage.db import open_db
from tests.bot.test_identity_shapes import RECORD_DAY, new_york, serve, update_and_check
from tests.bot.test_identity_shapes import yahoo as yahoo  # the fixture
from tests.bot.test_rewind_on_resolution import (
    EVE,
    LATE_ACCEPTED,
    NEXT,
    STEPPED_AGAIN,
    held_by_stooq_then_read_past,
    killed_check,
)
from tests.bot.test_second_source_evidence import SPREAD_RULE, invoke, new_events, only_rule
from tests.bot.test_yahoo_corpus import FETCHED
from tests.bot.test_yahoo_corpus import run as yahoo_run
from tests.fakes.yahoo import FakeYahoo

REFRESHES = 4


def rewind_rows(db_path: Path) -> list[tuple[str, str]]:
    db = open_db(db_path)
    try:
        return [tuple(row) for row in db.execute("SELECT name, day FROM rewinds ORDER BY name")]
    finally:
        db.close()


def next_second() -> None:
    """Wait for the clock's next second: a row stamped in the second a check saves its states
    stays for the next check (a state saved later that second counts as before it)."""
    time.sleep(1.001 - time.time() % 1)


def pending(db_path: Path) -> int:
    shown = yahoo_run(db_path, "status", "--json")
    return json.loads(shown.stdout)["rewinds_pending"]


def test_a_provisional_suspect_bar_refreshed_all_afternoon_is_one_row_then_none(
    yahoo: FakeYahoo, shared_data: Path, tmp_path: Path
) -> None:
    db_path = tmp_path / "desk.db"
    serve(yahoo, shared_data, "2026-06-11", new_york("2026-06-11", 16, 0))
    update_and_check(db_path)  # the rules have stepped through 06-11
    for minute in range(REFRESHES):  # a 50 % jump that moves a little at each refresh
        taken = new_york(RECORD_DAY, 14, minute)
        serve(yahoo, shared_data, RECORD_DAY, taken, factor=1.5 + minute / 100)
        assert yahoo_run(db_path, "prices", "update", *FETCHED).exit_code == 0
    serve(yahoo, shared_data, RECORD_DAY, taken, factor=1.5 + minute / 100)  # the same again
    assert yahoo_run(db_path, "prices", "update", *FETCHED).exit_code == 0
    shown = json.loads(yahoo_run(db_path, "prices", "show", "^RUT", "--json").stdout)
    [bar] = [row for row in shown["rows"] if row["date"] == RECORD_DAY]
    assert (bar["status"], bar["final"]) == ("suspect", False), bar  # held, and provisional
    # Rewritten REFRESHES - 1 times, each time a resolution: one row (there were three).
    assert rewind_rows(db_path) == [("^RUT", RECORD_DAY)]
    assert pending(db_path) == 0  # no rule has read 06-12: nothing to step again
    next_second()
    yahoo_run(db_path, "check", "--json")
    assert rewind_rows(db_path) == []


def recorded(db_path: Path) -> list[tuple[str, str]]:
    db = open_db(db_path)
    try:
        rows = db.execute("SELECT date, kind FROM events ORDER BY date, kind").fetchall()
        return [tuple(row) for row in rows]
    finally:
        db.close()


def test_a_check_killed_after_its_commit_consumed_the_rewind_and_repeats_no_event(
    shared_data: Path, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_rule(tmp_path, monkeypatch, SPREAD_RULE)
    with held_by_stooq_then_read_past(shared_data, db_path, monkeypatch):
        pass
    assert invoke(db_path, "prices", "accept", "IWM", str(EVE)).exit_code == 0
    assert rewind_rows(db_path) == [("IWM", str(EVE))] and pending(db_path) == 1
    status = yahoo_run(db_path, "status").stdout
    assert "rewinds pending: 1 (bars resolved after rules read past them;" in status

    # (A check killed at "evaluated" commits nothing: test_rewind_on_resolution's kill.)
    next_second()
    killed_check(db_path, "recorded")  # events, states and the consumed row in one commit
    assert rewind_rows(db_path) == [] and pending(db_path) == 0
    assert recorded(db_path) == [(str(EVE), "fired"), (str(NEXT), "reversed")]

    assert new_events(db_path) == []  # nothing stepped again, nothing repeated
    assert recorded(db_path) == [(str(EVE), "fired"), (str(NEXT), "reversed")]
    db = open_db(db_path)
    try:
        texts = [row[0] for row in db.execute("SELECT payload FROM events ORDER BY date")]
    finally:
        db.close()
    assert LATE_ACCEPTED in texts[0] and STEPPED_AGAIN in texts[1]

"""Quiet by default: a replay writes at most one line per session, and a rule that stays
NO DATA session after session is said once, then counted."""

from __future__ import annotations

import logging
import socket
import time
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import _register_commands, app
from bot.service.fetch_outage import StaleEvaluation
from bot.service.jobs import ServiceJobs
from bot.service.repeats import RepeatedProblems, describe
from signals.models import PriceBar
from storage.db import open_db
from storage.outbox import list_outbox
from storage.prices import upsert_bars
from tests.bot.test_exit_codes import DISABLE_DEFAULTS, ONE_RULE, store_closes
from tests.bot.test_jobs import AFTER_CLOSE, fred, settings_for, yahoo  # noqa: F401
from tests.fakes.fred import FakeFred
from tests.fakes.yahoo import FakeYahoo

_register_commands()


def test_a_repeated_problem_is_said_once_then_counted() -> None:
    problems = RepeatedProblems()
    first = problems.update({"pe": "NO DATA: no P/E", "ytd": "NO DATA: 2 of 5 sessions"})
    assert first == ({"pe": "NO DATA: no P/E", "ytd": "NO DATA: 2 of 5 sessions"}, {})
    second = problems.update({"pe": "NO DATA: no P/E", "ytd": "NO DATA: 3 of 5 sessions"})
    assert second == ({"ytd": "NO DATA: 3 of 5 sessions"}, {"pe": 2})
    assert problems.update({"pe": "NO DATA: no P/E"}) == ({}, {"pe": 3})
    assert describe({}, {"pe": 3}) == "1 more unchanged (pe for 3 sessions)"
    problems.update({})  # the rule got its data: a later NO DATA is news again
    assert problems.update({"pe": "NO DATA: no P/E"}) == ({"pe": "NO DATA: no P/E"}, {})


def test_a_replay_writes_at_most_one_line_per_session(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(ONE_RULE, encoding="utf-8")  # plus the defaults: most are NO DATA here
    monkeypatch.setenv("ROTATION_RULES", str(rules))
    monkeypatch.setenv("ROTATION_LOG_LEVEL", "info")
    sessions = [date(2025, 1, 2), date(2025, 1, 3), *(date(2025, 1, d) for d in range(6, 11))]
    store_closes(db_path, "X", sessions)
    result = CliRunner().invoke(
        app, ["--db", str(db_path), "run", "--replay", "2025-01-06:2025-01-10"]
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if "level=" in line]
    per_session = [line for line in lines if "2025-01-0" in line or "2025-01-10" in line]
    assert len(per_session) <= 5 + 1, per_session  # five sessions, and the "replaying" line
    assert not [line for line in lines if "not evaluated" in line]  # details are DEBUG
    assert len(lines) <= 5 + 5, lines  # start, stop, delivery: a handful beyond the sessions


async def test_live_the_same_no_data_is_a_warning_once_then_a_counted_line(
    yahoo: FakeYahoo,  # noqa: F811
    fred: FakeFred,  # noqa: F811
    db_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    open_db(db_path).close()
    jobs = ServiceJobs(settings_for(yahoo, fred, db_path), db_path)
    caplog.set_level(logging.INFO, logger="bot.service.jobs")
    try:
        for _ in range(3):  # no rule has data: recorded stale and retried (issue 18)
            with pytest.raises(StaleEvaluation):
                await jobs.evaluate_session(date(2026, 6, 11), AFTER_CLOSE, alert=True)
    finally:
        jobs.close()
    said = [r for r in caplog.records if "not evaluated" in r.getMessage()]
    assert [r.levelno for r in said] == [logging.WARNING, logging.INFO, logging.INFO]
    assert "iwc-overtakes-oef-ytd NO DATA" in said[0].getMessage()
    assert "NO DATA" not in said[2].getMessage()  # the reasons are not repeated...
    assert "for 3 sessions" in said[2].getMessage()  # ...they are counted


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_check_deliver_to_an_unreachable_webhook_stops_at_its_deadline(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        DISABLE_DEFAULTS + ONE_RULE.replace("min_history = 2", "min_history = 2\nhysteresis = 0"),
        encoding="utf-8",
    )
    env = {
        "ROTATION_RULES": str(rules),
        "SLACK_WEBHOOK_URL": f"http://127.0.0.1:{_closed_port()}/services/T0/B0/secret",
        "ROTATION_CATCHUP_ALERT_DAYS": "3650",
        "DELIVERY_BASE_DELAY_SECONDS": "0.2",
        "DELIVERY_CHECK_DEADLINE_SECONDS": "2",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    closes = {date(2024, 12, 31): 100.0, date(2025, 1, 2): 99.0, date(2025, 1, 3): 98.0}
    db = open_db(db_path)
    upsert_bars(
        db, [PriceBar("X", d, close=c, adj_close=c, source="test") for d, c in closes.items()]
    )
    db.close()
    CliRunner().invoke(app, ["--db", str(db_path), "check"])  # primes the rule: no high yet
    db = open_db(db_path)
    upsert_bars(db, [PriceBar("X", date(2025, 1, 6), close=500, adj_close=500, source="test")])
    db.close()
    logging.getLogger().handlers.clear()  # the command logs through its own handler

    started = time.monotonic()
    result = CliRunner().invoke(app, ["--db", str(db_path), "check", "--deliver"])
    seconds = time.monotonic() - started

    assert result.exit_code == 1, result.output
    assert seconds < 2 + 3, seconds  # the deadline, plus start-up; not DELIVERY_MAX_WAIT (300 s)
    assert "alerts still queued after delivering for at most 2 s" in result.stderr
    assert "pending 1" in result.output
    [row] = list_outbox(open_db(db_path))
    assert row["status"] == "pending"  # left for the service, not given up
    attempts = [line for line in result.stderr.splitlines() if "slack:webhook" in line]
    assert "Failed to send a request" not in result.stderr  # slack_sdk's copy of each failure
    assert 1 <= len(attempts) <= row["attempts"] + 1  # one line per attempt (+ the outage line)
    assert "secret" not in result.output

"""An evaluation that evaluated no rule is recorded `stale`, never `ok`, and is tried again."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import _register_commands, app
from bot.config import load_settings
from bot.service.clock import RealClock
from bot.service.health import collect_health
from bot.service.jobs import ServiceJobs
from bot.service.metrics import Metrics
from bot.service.runner import Service
from bot.service.worker import StateStore, Worker, WorkItem, connect_shared
from storage import service_state
from storage.db import open_db
from tests.bot.test_first_run_offline import FrozenClock, closed_port
from tests.fakes.recording_jobs import RecordingJobs

SESSION = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)


async def test_an_evaluation_without_fresh_prices_is_stale_in_status_and_metrics(
    db_path: Path,
) -> None:
    settings = load_settings(
        None, db_path=db_path, yahoo_url=f"http://127.0.0.1:{closed_port()}", fetch_retries=0
    )
    open_db(db_path).close()
    jobs, metrics = ServiceJobs(settings, db_path), Metrics()
    worker = Worker(jobs, RealClock(), StateStore(connect_shared(db_path)), observer=metrics)
    task = asyncio.create_task(worker.run())
    worker.submit([WorkItem("evaluate", datetime.now(UTC), SESSION)])
    await asyncio.wait_for(worker.wait_idle(), 60)
    worker.close()
    await asyncio.wait_for(task, 10)
    jobs.close()

    db = open_db(db_path)
    run = service_state.last_run(db, "evaluate", outcome=None)
    assert run is not None and run["outcome"] == "stale"
    assert "not evaluated for 2026-11-20: no fresh prices" in str(run["detail"])
    assert service_state.last_evaluated_session(db) is None  # the session is still to do
    health = collect_health(db, datetime.now(UTC), settings)
    db.close()
    assert not health.ok and any("2026-11-20 stale" in line for line in health.problems)
    assert health.to_dict()["last_evaluation"]["outcome"] == "stale"
    exposition = metrics.render().decode()
    assert 'rotation_jobs_total{kind="evaluate",outcome="stale"} 1.0' in exposition
    assert 'outcome="ok"' not in exposition


async def test_a_restart_after_a_stale_evaluation_says_so_once_and_runs_it_again(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = open_db(db_path)
    for session, outcome in ((date(2026, 11, 19), "ok"), (SESSION, "stale")):
        detail = (
            "9 rule(s) not evaluated for 2026-11-20: no fresh prices" if outcome != "ok" else ""
        )
        run = {"job": "evaluate", "session": session, "outcome": outcome, "detail": detail}
        service_state.record_run(db, {**run, "started_at": NOW, "finished_at": NOW})
    db.close()
    jobs = RecordingJobs()
    service = Service(
        load_settings(None), jobs, db_path=db_path, clock=FrozenClock(), install_signals=False
    )
    task = asyncio.create_task(service.run())
    await asyncio.wait_for(service.ready.wait(), 10)
    await asyncio.sleep(0.5)
    service.request_stop("test")
    assert await asyncio.wait_for(task, 20) == 0
    notices = [r for r in caplog.records if "is still to do" in r.getMessage()]
    assert len(notices) == 1 and notices[0].levelname == "WARNING"
    assert "2026-11-20 is still to do (9 rule(s) not evaluated" in notices[0].getMessage()
    assert [c[:2] for c in jobs.calls if c[0] == "evaluate"] == [("evaluate", "2026-11-20")]


def test_status_json_says_degraded_after_a_stale_evaluation(db_path: Path) -> None:
    db = open_db(db_path)
    run = {"job": "evaluate", "session": SESSION, "outcome": "stale", "detail": "no fresh prices"}
    service_state.record_run(db, {**run, "started_at": NOW, "finished_at": NOW})
    db.close()
    _register_commands()
    result = CliRunner().invoke(app, ["--db", str(db_path), "status", "--json"])
    assert result.exit_code == 1  # degraded
    status = json.loads(result.stdout)
    assert (status["status"], status["last_evaluation"]["outcome"]) == ("degraded", "stale")
    assert "evaluation of 2026-11-20 stale: no fresh prices" in status["problems"]

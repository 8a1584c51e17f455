"""The run loop on injected clocks: replay order, catch-up without duplicates, SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.calendar import NEW_YORK
from bot.config import Settings, load_settings
from bot.delivery.discord import DiscordBotNotifier, DiscordRest
from bot.delivery.sender import deliver_pending
from bot.logging_setup import Redactor
from bot.service import schedule
from bot.service.clock import SimulatedClock
from bot.service.runner import Service, planned_items
from bot.service.worker import StateStore, Worker, WorkItem, connect_shared
from storage import service_state
from storage.db import open_db
from storage.outbox import enqueue_alerts, list_outbox
from tests.conftest import PROJECT_ROOT
from tests.fakes.clocks import FrozenClock
from tests.fakes.delivery_kit import make_event
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.httpfake import Request, Response
from tests.fakes.recording_jobs import RecordingJobs, local


def new_york(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NEW_YORK).astimezone(UTC)


def settings(**overrides: object) -> Settings:
    return load_settings(None, **overrides)


def expected_replay_calls(start: date, end: date, config: Settings) -> list[tuple[str, str, str]]:
    calls = []
    for job in schedule.plan_days(start, end, config):
        session = "" if job.kind == "intraday" else job.session.isoformat()
        calls.append((job.kind, session, local(job.at)))
        if job.kind == "evaluate":  # replay refreshes nothing intraday, so delivers only here
            calls.append(("deliver", "", ""))
    return calls


async def run_until_idle(service: Service) -> int:
    task = asyncio.create_task(service.run())
    await service.ready.wait()
    assert service.worker is not None
    await service.worker.wait_idle()
    service.request_stop("test done")
    return await asyncio.wait_for(task, 10)


async def test_replay_of_thanksgiving_week_runs_exactly_the_planned_jobs(db_path: Path) -> None:
    config = settings(intraday_minutes=60)
    jobs = RecordingJobs()
    clock = SimulatedClock(new_york("2025-11-20T00:00"), speed=0)
    replay = (date(2025, 11, 24), date(2025, 11, 28))
    service = Service(config, jobs, db_path=db_path, clock=clock, replay=replay)

    assert await asyncio.wait_for(service.run(), 20) == 0

    got = [call[:3] for call in jobs.calls]
    assert got == expected_replay_calls(*replay, config)
    evaluations = [call[1:3] for call in jobs.calls if call[0] == "evaluate"]
    assert evaluations == [
        ("2025-11-24", "2025-11-24 16:20"),
        ("2025-11-25", "2025-11-25 16:20"),
        ("2025-11-26", "2025-11-26 16:20"),
        ("2025-11-28", "2025-11-28 13:20"),  # early close; nothing on Thanksgiving
    ]
    assert all(call[3] for call in jobs.calls if call[0] == "evaluate")


async def test_restart_after_two_missed_sessions_catches_up_in_order_once(db_path: Path) -> None:
    db = open_db(db_path)
    last = {"job": "evaluate", "session": date(2025, 11, 21), "outcome": "ok"}
    service_state.record_run(db, {**last, "started_at": "2025-11-21T21:20:00+00:00"})
    db.close()
    now = new_york("2025-11-25T18:00")  # evaluations of Mon 24 and Tue 25 are due
    config = settings(catchup_alert_days=0)

    first = RecordingJobs()
    assert (
        await run_until_idle(Service(config, first, db_path=db_path, clock=FrozenClock(now))) == 0
    )
    second = RecordingJobs()
    assert (
        await run_until_idle(Service(config, second, db_path=db_path, clock=FrozenClock(now))) == 0
    )

    assert first.calls == [
        ("evaluate", "2025-11-24", "2025-11-24 16:20", False),  # older than the alert window
        ("evaluate", "2025-11-25", "2025-11-25 16:20", True),
        # 17:30's digest went by while the bot was down, 30 minutes ago: it still goes out
        # (once: the second start finds it done).
        ("digest", "2025-11-25", "2025-11-25 17:30", None),
        ("deliver", "", "", None),
    ]
    assert second.calls == []


async def test_first_start_evaluates_only_the_latest_due_session(db_path: Path) -> None:
    jobs = RecordingJobs()
    now = new_york("2025-11-27T12:00")  # Thanksgiving: Wednesday's evaluation is the latest
    await run_until_idle(Service(settings(), jobs, db_path=db_path, clock=FrozenClock(now)))
    assert jobs.calls[0] == ("evaluate", "2025-11-26", "2025-11-26 16:20", True)


async def test_live_slots_fire_in_order_on_a_fast_simulated_clock(db_path: Path) -> None:
    jobs = RecordingJobs()
    # 15 simulated minutes per real second; the start leaves 0.33 s for migrations.
    clock = SimulatedClock(new_york("2025-11-28T12:40"), speed=900)
    service = Service(settings(close_delay_minutes=5), jobs, db_path=db_path, clock=clock)
    task = asyncio.create_task(service.run())
    deadline = time.monotonic() + 5
    while ("snapshot", "2025-11-28") not in [c[:2] for c in jobs.calls]:
        assert time.monotonic() < deadline, jobs.calls
        await asyncio.sleep(0.02)
    service.request_stop("test done")
    assert await asyncio.wait_for(task, 5) == 0

    assert [c[:3] for c in jobs.calls[:6]] == [
        ("evaluate", "2025-11-26", "2025-11-26 16:05"),  # catch-up on first start
        ("deliver", "", ""),
        ("intraday", "", "2025-11-28 12:45"),
        ("deliver", "", ""),
        ("evaluate", "2025-11-28", "2025-11-28 13:05"),
        ("deliver", "", ""),
    ]


def test_sigterm_during_a_long_job_lets_it_finish_and_exits_0(tmp_path: Path) -> None:
    script = PROJECT_ROOT / "tests" / "fakes" / "slow_service.py"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    process = subprocess.Popen([sys.executable, str(script), str(tmp_path)], env=env)
    deadline = time.monotonic() + 20
    while not (tmp_path / "started").exists():
        assert process.poll() is None, "service exited early"
        assert time.monotonic() < deadline, "the slow job never started"
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=20) == 0
    assert (tmp_path / "finished").exists()
    db = open_db(tmp_path / "rotation.db")
    assert [r["outcome"] for r in service_state.runs(db) if r["job"] == "evaluate"] == ["ok"]


@pytest.mark.parametrize("speed", [-1.0])
def test_simulated_clock_rejects_negative_speed(speed: float) -> None:
    with pytest.raises(ValueError, match="speed"):
        SimulatedClock(datetime.now(UTC) - timedelta(days=1), speed=speed)


def test_late_slots_drop_stale_refreshes_but_keep_evaluations() -> None:
    config = settings(catchup_alert_days=0)
    woke = new_york("2025-11-28T12:05")  # after a suspend that began on Wednesday afternoon
    due = schedule.jobs_between(new_york("2025-11-26T15:00"), woke, config)
    items = planned_items(due, woke, config)

    assert [(item.kind, item.session, item.alert) for item in items] == [
        ("evaluate", date(2025, 11, 26), False),  # older than the alert window: recorded only
        ("deliver", None, True),
        ("snapshot", date(2025, 11, 26), False),  # the digest of Wednesday is skipped
        ("intraday", date(2025, 11, 28), True),  # 12:00 only: 11:45 is over an interval old
        ("deliver", None, True),
    ]


async def test_worker_runs_only_the_latest_of_queued_refreshes(db_path: Path) -> None:
    open_db(db_path).close()
    jobs = RecordingJobs()
    state = StateStore(connect_shared(db_path))
    worker = Worker(jobs, FrozenClock(new_york("2025-11-28T12:00")), state)
    at = [new_york(f"2025-11-28T{hh}:00") for hh in ("10", "11", "12")]
    worker.submit([WorkItem("intraday", moment, date(2025, 11, 28)) for moment in at])
    worker.submit([WorkItem("deliver", at[-1]), WorkItem("deliver", at[-1])])
    task = asyncio.create_task(worker.run())
    await worker.wait_idle()
    worker.close()
    await task
    state.close()

    assert jobs.calls == [("intraday", "", "2025-11-28 12:00", None), ("deliver", "", "", None)]


class FailingJobs(RecordingJobs):
    """Evaluations fail with an error message that carries a secret."""

    async def evaluate_session(self, session: date, now: datetime, *, alert: bool) -> int:
        raise RuntimeError("401 from https://hooks.example/T000/SECRET-TOKEN")


async def test_failed_jobs_are_recorded_redacted_and_the_worker_goes_on(db_path: Path) -> None:
    open_db(db_path).close()
    jobs = FailingJobs()
    state = StateStore(connect_shared(db_path))
    redact = Redactor(["SECRET-TOKEN"])
    worker = Worker(jobs, FrozenClock(new_york("2025-11-28T14:00")), state, redact=redact)
    at = new_york("2025-11-28T13:20")
    worker.submit([WorkItem("evaluate", at, date(2025, 11, 28)), WorkItem("deliver", at)])
    task = asyncio.create_task(worker.run())
    await worker.wait_idle()
    worker.close()
    await task
    state.close()

    assert jobs.kinds() == ["deliver"]  # the failure did not stop the queue
    db = open_db(db_path)
    (run,) = [r for r in service_state.runs(db) if r["job"] == "evaluate"]
    assert run["outcome"] == "error"
    assert run["detail"] == "RuntimeError: 401 from https://hooks.example/T000/[redacted]"
    assert service_state.last_evaluated_session(db) is None  # so the next start catches up


class TermOnPost(FakeDiscord):
    """Fake Discord that sends SIGTERM to `term_pid` when a message post arrives, then answers
    late, so the signal lands while the service's delivery is in flight."""

    term_pid: int | None = None

    def handle(self, request: Request) -> Response | None:
        if self.term_pid is not None and request.method == "POST":
            os.kill(self.term_pid, signal.SIGTERM)
            self.term_pid = None
            time.sleep(0.5)
        return super().handle(request)


def test_sigterm_during_a_delivery_loses_nothing(tmp_path: Path) -> None:
    """`rotation-bot run` gets SIGTERM mid-post: that post is recorded, the rest wait, exit 0."""
    from discord.http import Route

    db_path, base = tmp_path / "rotation.db", Route.BASE
    events = [make_event(day) for day in (18, 19, 20)]
    channel = "123456789012345678"
    with closing(open_db(db_path)) as db:
        enqueue_alerts(db, events, [f"discord:{channel}"])
    fake = TermOnPost().start()
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "DISCORD_BOT_TOKEN": fake.token,
        "DISCORD_CHANNEL_IDS": channel,
        "DISCORD_API_BASE": fake.api_base,
        "ROTATION_YAHOO_URL": "http://127.0.0.1:9",  # the catch-up's refresh fails at once
        "ROTATION_FETCH_RETRIES": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "--db", str(db_path), "run"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
    )
    fake.term_pid = process.pid
    try:
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr.decode()[-3000:]
        with closing(open_db(db_path)) as db:
            rows = list_outbox(db)
            assert [r["status"] for r in rows] == ["delivered", "pending", "pending"]
            assert rows[0]["message_id"] == fake.messages[0].id
            assert [r["attempts"] for r in rows] == [1, 0, 0]
            rest = DiscordRest(fake.token, api_base=fake.api_base)
            try:  # the next start delivers the rest, once each, in order
                report = deliver_pending(db, [DiscordBotNotifier(rest, channel)])
            finally:
                rest.close()
        assert report.delivered == 2
        footers = [m.embed["footer"]["text"] for m in fake.messages]
        assert footers == [f"rule iwc_over_oef_ytd · alert {e.dedupe_key}" for e in events]
    finally:
        fake.stop()
        Route.BASE = base


async def test_a_digest_missed_long_ago_is_skipped_and_a_recent_one_is_posted(
    db_path: Path,
) -> None:
    """A restart (or a new leader) posts a digest missed within DIGEST_STALE, not an older one."""
    db = open_db(db_path)
    last = {"job": "evaluate", "session": date(2025, 11, 25), "outcome": "ok"}
    service_state.record_run(db, {**last, "started_at": "2025-11-25T21:20:00+00:00"})
    db.close()
    late = RecordingJobs()  # 21:00 New York: 17:30's digest is 3.5 h old, past DIGEST_STALE
    await run_until_idle(
        Service(settings(), late, db_path=db_path, clock=FrozenClock(new_york("2025-11-25T21:00")))
    )
    assert late.calls == []
    soon = RecordingJobs()  # 20:00: 2.5 h old, still worth posting
    await run_until_idle(
        Service(settings(), soon, db_path=db_path, clock=FrozenClock(new_york("2025-11-25T20:00")))
    )
    assert soon.calls == [
        ("digest", "2025-11-25", "2025-11-25 17:30", None),
        ("deliver", "", "", None),
    ]

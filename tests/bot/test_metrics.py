"""Prometheus metrics and /healthz over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp

from bot.calendar import NEW_YORK
from bot.config import load_settings
from bot.service.clock import SimulatedClock
from bot.service.health import Health, read_health
from bot.service.metrics import Metrics, MetricsServer
from bot.service.runner import Service
from bot.service.worker import WorkItem
from signals.models import PriceBar
from storage import service_state
from storage.db import open_db
from storage.prices import upsert_bars
from tests.fakes.recording_jobs import RecordingJobs

SETTINGS = load_settings(None)
NOW = datetime(2025, 12, 1, 18, 0, tzinfo=NEW_YORK).astimezone(UTC)


def seed(path: Path, *, healthy: bool) -> None:
    db = open_db(path)
    last = date(2025, 12, 1) if healthy else date(2025, 11, 26)
    upsert_bars(db, [PriceBar("IWM", last, close=1.0, adj_close=1.0)])
    run = {"job": "evaluate", "session": last, "outcome": "ok"}
    service_state.record_run(db, {**run, "started_at": NOW, "finished_at": NOW})
    service_state.set_state(db, {"heartbeat": NOW.isoformat()}, NOW)
    db.close()


async def fetch(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}{path}") as response:
            return response.status, await response.text()


async def serving(metrics: Metrics, path: Path) -> MetricsServer:
    async def health() -> Health:
        return await asyncio.to_thread(read_health, path, NOW, SETTINGS)

    server = MetricsServer(metrics, health, "127.0.0.1", 0)
    await server.start()
    return server


async def test_metrics_count_jobs_alerts_deliveries_and_data_age(db_path: Path) -> None:
    seed(db_path, healthy=False)
    metrics = Metrics()
    evaluation = WorkItem("evaluate", NOW, date(2025, 12, 1))
    metrics.job_finished(evaluation, "ok", 0.2, 2)
    metrics.job_finished(WorkItem("deliver", NOW), "ok", 0.1, {"delivered": 3, "dead": 1})
    server = await serving(metrics, db_path)
    try:
        status, text = await fetch(server.port, "/metrics")
    finally:
        await server.stop()

    assert status == 200
    assert 'rotation_evaluations_total{outcome="ok"} 1.0' in text
    assert "rotation_alerts_total 2.0" in text
    assert 'rotation_deliveries_total{outcome="delivered"} 3.0' in text
    assert 'rotation_deliveries_total{outcome="dead"} 1.0' in text
    assert 'rotation_data_age_sessions{symbol="IWM"} 2.0' in text
    assert "rotation_healthy 0.0" in text


async def test_healthz_is_200_when_healthy_and_503_with_problems(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.db", tmp_path / "bad.db"
    seed(good, healthy=True)
    seed(bad, healthy=False)
    for path, expected in ((good, 200), (bad, 503)):
        server = await serving(Metrics(), path)
        try:
            status, text = await fetch(server.port, "/healthz")
        finally:
            await server.stop()
        assert status == expected, text
    assert '"status": "degraded"' in text and "stale data" in text


async def test_the_service_feeds_the_metrics_while_replaying(db_path: Path) -> None:
    metrics = Metrics()
    clock = SimulatedClock(NOW, speed=0)
    config = load_settings(None, intraday_minutes=120)
    replay = (date(2025, 11, 28), date(2025, 11, 28))
    jobs = RecordingJobs()
    service = Service(config, jobs, db_path=db_path, clock=clock, replay=replay, observer=metrics)
    assert await asyncio.wait_for(service.run(), 10) == 0

    text = metrics.render().decode()
    assert 'rotation_jobs_total{kind="intraday",outcome="ok"} 1.0' in text  # 11:30 only
    assert 'rotation_evaluations_total{outcome="ok"} 1.0' in text
    assert "rotation_alerts_total 1.0" in text

"""Prometheus metrics and `/healthz` over HTTP, served on the service's own event loop.

Started only when ROTATION_METRICS_PORT is set. The registry is per `Metrics` object (not
prometheus-client's global one) so tests and several services in one process never clash.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from bot.service.health import Health
from bot.service.web import Mounted, mount
from bot.service.worker import WorkItem

log = logging.getLogger(__name__)

HealthProvider = Callable[[], Awaitable[Health]]


class Metrics:
    """Counters the worker feeds after every job, gauges refreshed from the health model."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.jobs = Counter(
            "rotation_jobs", "Jobs run, by kind and outcome", ["kind", "outcome"], registry=r
        )
        self.job_seconds = Histogram(
            "rotation_job_duration_seconds", "Job duration", ["kind"], registry=r
        )
        self.evaluations = Counter(
            "rotation_evaluations", "Final evaluations, by outcome", ["outcome"], registry=r
        )
        self.alerts = Counter(
            "rotation_alerts", "New events found by final evaluations", registry=r
        )
        self.deliveries = Counter(
            "rotation_deliveries", "Outbox send attempts, by outcome", ["outcome"], registry=r
        )
        self.data_age = Gauge(
            "rotation_data_age_sessions",
            "Sessions of final bars missing, per symbol",
            ["symbol"],
            registry=r,
        )
        self.outbox = Gauge(
            "rotation_outbox_rows", "Outbox rows, by status", ["status"], registry=r
        )
        self.last_evaluation = Gauge(
            "rotation_last_evaluation_timestamp_seconds",
            "When the last final evaluation finished",
            registry=r,
        )
        self.healthy = Gauge("rotation_healthy", "1 when status reports no problem", registry=r)

    def job_finished(self, item: WorkItem, outcome: str, seconds: float, result: object) -> None:
        """Count one finished job and what it produced."""
        self.jobs.labels(item.kind, outcome).inc()
        self.job_seconds.labels(item.kind).observe(seconds)
        if item.kind == "evaluate":
            self.evaluations.labels(outcome).inc()
            if isinstance(result, int) and item.alert:
                self.alerts.inc(result)
        if item.kind == "deliver" and isinstance(result, Mapping):
            for name, count in result.items():
                self.deliveries.labels(str(name)).inc(int(count))

    def observe_health(self, health: Health) -> None:
        """Refresh the gauges from a freshly collected health model."""
        for symbol in health.symbols:
            self.data_age.labels(symbol.symbol).set(symbol.sessions_behind)
        for status, count in (health.outbox or {}).items():
            self.outbox.labels(status).set(count)
        finished = (health.last_evaluation or {}).get("finished_at")
        if finished:
            self.last_evaluation.set(datetime.fromisoformat(str(finished)).timestamp())
        self.healthy.set(1 if health.ok else 0)

    def render(self) -> bytes:
        """The exposition text Prometheus scrapes."""
        return generate_latest(self.registry)


class MetricsServer:
    """`GET /metrics` (Prometheus text) and `GET /healthz` (200 ok / 503 degraded, JSON)."""

    def __init__(self, metrics: Metrics, health: HealthProvider, host: str, port: int) -> None:
        self.metrics, self._health = metrics, health
        self.host, self.port = host, port
        self._mounted: Mounted | None = None

    async def start(self) -> None:
        """Serve on the port's web server (shared with the chat endpoints when they use it too);
        `port` is updated with the real one (useful with port 0)."""
        routes = {("GET", "/metrics"): self._metrics, ("GET", "/healthz"): self._healthz}
        self._mounted = await mount(self.host, self.port, routes)
        self.port = self._mounted.port

    async def stop(self) -> None:
        """Stop serving (the listener closes with its last user)."""
        if self._mounted is not None:
            await self._mounted.cleanup()
            self._mounted = None

    async def _metrics(self, request: web.Request) -> web.Response:
        try:
            self.metrics.observe_health(await self._health())
        except Exception:  # metrics must stay scrapeable even when the database is busy
            log.exception("could not refresh health gauges")
        headers = {"Content-Type": CONTENT_TYPE_LATEST}
        return web.Response(body=self.metrics.render(), headers=headers)

    async def _healthz(self, request: web.Request) -> web.Response:
        try:
            health = await self._health()
        except Exception as error:
            log.exception("health check failed")
            body = {"status": "error", "problems": [type(error).__name__]}
            return web.json_response(body, status=503)
        self.metrics.observe_health(health)
        body = {"status": "ok" if health.ok else "degraded", "problems": health.problems}
        return web.json_response(body, status=200 if health.ok else 503, dumps=json.dumps)

    async def serve(self) -> None:
        """Serve until cancelled (pass this to the service as an extra task)."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

"""Queue the alerts owed and given, then deliver the outbox once: what `check --deliver` and
tests call (the service queues in its jobs and delivers in its own passes)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from bot.config import Settings
from bot.delivery.alerting import Route, queue_alerts, queue_owed
from bot.delivery.charts import render_event_chart
from bot.delivery.destinations import close_notifiers, on_demand_notifiers
from bot.delivery.message import Notifier
from bot.delivery.sender import (
    Clock,
    DeliveryPolicy,
    DeliveryReport,
    Sleep,
    deliver_pending,
    utc_now,
)
from signals.models import Event, MarketData
from signals.rules import Rule
from storage.db import Store
from storage.outbox import open_destinations

log = logging.getLogger(__name__)

ChartRenderer = Callable[[Event, MarketData], bytes | None]


def enqueue_and_deliver(
    db: Store,
    events: Sequence[Event],
    notifiers: Sequence[Notifier],
    market: MarketData,
    *,
    render: ChartRenderer | None = None,
    now: Clock = utc_now,
    sleep: Sleep = time.sleep,
    policy: DeliveryPolicy | None = None,
    settings: Settings | None = None,
    rules: Sequence[Rule] = (),
    route: Route | None = None,
) -> DeliveryReport:
    """Queue alerts like the service does, then deliver: first every recorded event still owed
    its alert (`queue_owed`: this run's and any a crash or a plain `check` left), then `events`
    (`queue_alerts`; events never recorded, as tests and replays pass them).

    Args:
        settings, rules: enable subscriber DMs and re-notification (None: mentions only).
        route: each rule's channels (`bot.rules.routing.router`); None: every notifier.
    """
    draw = render or render_event_chart

    def chart(event: Event) -> bytes | None:
        return draw(event, market)

    names, when = [n.name for n in notifiers], now()
    owed = queue_owed(
        db, names, settings=settings, rules=rules, render=chart, now=when, route=route
    )
    given = queue_alerts(
        db, events, names, settings=settings, rules=rules, render=chart, now=when, route=route
    )
    log.info(
        "%d new outbox row(s) for %d alert(s)", owed.rows + given.rows, owed.alerts + given.alerts
    )
    dms = on_demand_notifiers(settings, open_destinations(db), notifiers) if settings else []
    try:
        return deliver_pending(db, [*notifiers, *dms], now=now, sleep=sleep, policy=policy)
    finally:
        close_notifiers(dms, keep=notifiers)

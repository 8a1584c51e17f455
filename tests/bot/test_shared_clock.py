"""Issue 18: ages, claims and pacing must not trust one host's wall clock.

`SharedClock` (bot/delivery/shared_clock.py) on injected clocks: a wall clock that jumps
forward or back while the service runs moves nothing on SQLite; on PostgreSQL the server's
clock is the reference. Then the reported case on a real PostgreSQL: a sender whose host
clock runs 6 h ahead, its destination failing, alerts queued an hour ago: with the host clock
(as before) it gives them up at once; with the shared clock none is given up, and the
retry instants it writes are the server's, not 6 h ahead.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.delivery.discord import DiscordBotNotifier, DiscordRest
from bot.delivery.sender import DeliveryPolicy, deliver_pending
from bot.delivery.shared_clock import SharedClock
from storage.db import Store, open_db
from storage.outbox import enqueue_alerts, list_outbox
from storage.stamps import server_now, utc_now
from tests.fakes.delivery_kit import make_event
from tests.fakes.discord_api import FakeDiscord

CHANNEL = "123456789012345678"
T0 = datetime(2026, 11, 20, 21, 30, tzinfo=UTC)
POLICY = DeliveryPolicy(max_age_hours=6.0, base_delay=2.0, lease_seconds=60.0, max_wait=0.0)


class Host:
    """A host's clocks: a wall clock a test can jump, a monotonic one that only runs."""

    def __init__(self) -> None:
        self.wall, self.mono = T0, 1000.0

    def run(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds


@pytest.mark.parametrize("jump", [timedelta(hours=6), -timedelta(hours=1)])
def test_a_wall_clock_jump_while_running_moves_no_instant_on_sqlite(
    fresh_db: Store, jump: timedelta
) -> None:
    host = Host()
    clock = SharedClock(monotonic=lambda: host.mono, source=lambda db: host.wall)
    clock.sync(fresh_db)
    host.run(30)
    host.wall += jump  # NTP steps the clock, an operator sets it, a VM resumes
    host.run(30)
    clock.sync(fresh_db)  # every pass syncs: SQLite reads its one host's clock once
    assert clock.now() == T0 + timedelta(seconds=60)


def test_on_postgresql_the_server_clock_is_the_reference_read_every_minute() -> None:
    host, server = Host(), [T0 + timedelta(hours=-6)]  # this host runs 6 h ahead
    clock = SharedClock(resync=60, monotonic=lambda: host.mono, source=lambda db: server[0])
    postgres = type("Pg", (), {"engine": "postgresql"})()
    clock.sync(postgres)  # type: ignore[arg-type]
    host.run(30)
    server[0] += timedelta(seconds=30)
    clock.sync(postgres)  # type: ignore[arg-type]
    assert clock.now() == server[0]  # the host's wall clock never enters
    host.run(45)
    server[0] += timedelta(seconds=45, milliseconds=20)  # the server's own time, read again
    clock.sync(postgres)  # type: ignore[arg-type]
    assert clock.now() == server[0]


def test_a_sender_6_hours_ahead_gives_up_nothing_queued_an_hour_ago(pg_url: str) -> None:
    db = open_db(pg_url)
    queued = server_now(db) - timedelta(hours=1)
    enqueue_alerts(db, [make_event(rule=f"r{n}") for n in range(3)], [f"discord:{CHANNEL}"],
                   now=queued)  # fmt: skip
    fake = FakeDiscord().start()
    fake.down_status = 503  # the destination fails: its rows may be given up by age
    rest = DiscordRest(fake.token, api_base=fake.api_base, timeout=5.0)
    notifier = DiscordBotNotifier(rest, CHANNEL)
    shared = SharedClock()
    try:
        for _ in range(2):  # the first pass fails and pauses it; the second checks ages
            shared.sync(db)
            report = deliver_pending(db, [notifier], now=shared.now, policy=POLICY)
            assert report.dead == 0
        retry_at = datetime.fromisoformat(list_outbox(db)[0]["next_attempt_at"])
        assert abs(retry_at - server_now(db)) < timedelta(minutes=5)  # not 6 h ahead

        ahead = lambda: utc_now() + timedelta(hours=6)  # noqa: E731 - the host clock, as before
        assert deliver_pending(db, [notifier], now=ahead, policy=POLICY).dead == 3
    finally:
        rest.close()
        fake.stop()
        db.close()

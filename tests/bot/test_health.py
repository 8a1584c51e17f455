"""The shared health model: freshness per symbol, evaluations, heartbeat, outbox backlog."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlite_utils import Database

from bot.calendar import NEW_YORK
from bot.config import load_settings
from bot.service.health import collect_health, render_lines
from signals.models import Event, PriceBar
from storage import outbox, service_state
from storage.prices import set_statuses, upsert_bars

SETTINGS = load_settings(None)
NOW = datetime(2025, 12, 1, 18, 0, tzinfo=NEW_YORK).astimezone(UTC)  # Monday evening


def bars(symbol: str, *days: date, final: bool = True) -> list[PriceBar]:
    return [PriceBar(symbol, day, close=100.0, adj_close=100.0, final=final) for day in days]


def evaluated(db: Database, session: date, outcome: str = "ok") -> None:
    run = {"job": "evaluate", "session": session, "outcome": outcome}
    service_state.record_run(db, {**run, "started_at": NOW, "finished_at": NOW})


def test_healthy_when_data_evaluations_and_heartbeat_are_current(fresh_db: Database) -> None:
    upsert_bars(fresh_db, bars("IWM", date(2025, 11, 28), date(2025, 12, 1)))
    evaluated(fresh_db, date(2025, 12, 1))
    service_state.set_state(fresh_db, {"heartbeat": NOW.isoformat()}, NOW)

    health = collect_health(fresh_db, NOW, SETTINGS)

    assert health.problems == []
    assert health.expected_session == date(2025, 12, 1)
    assert health.to_dict()["status"] == "ok"
    assert health.to_dict()["outbox"] == {"pending": 0, "sending": 0, "delivered": 0, "dead": 0}


def test_stale_symbols_count_sessions_not_days(fresh_db: Database) -> None:
    upsert_bars(fresh_db, bars("IWC", date(2025, 11, 26)))  # Thanksgiving and a weekend after
    upsert_bars(fresh_db, bars("OEF", date(2025, 11, 26)))
    upsert_bars(fresh_db, bars("OEF", date(2025, 11, 28), date(2025, 12, 1), final=False))

    health = collect_health(fresh_db, NOW, SETTINGS)

    behind = {s.symbol: s.sessions_behind for s in health.symbols}
    assert behind == {"IWC": 2, "OEF": 2}  # OEF's later bars are provisional
    assert health.problems[0] == "stale data for 2025-12-01: IWC (2 behind), OEF (2 behind)"
    assert "session 2025-12-01 not evaluated yet (last: never)" in health.problems
    assert "service not running (no recent heartbeat)" in health.problems


def test_outbox_backlog_and_dead_deliveries_are_reported(fresh_db: Database) -> None:
    event = Event("iwc_over_oef", "fired", date(2025, 12, 1), "2025-12-01", "IWC leads", 1.0)
    outbox.enqueue_alerts(fresh_db, [event], ["console", "discord"], now=NOW)
    fresh_db.execute("UPDATE outbox SET status = 'dead' WHERE destination = 'discord'")

    health = collect_health(fresh_db, NOW, SETTINGS)

    assert health.outbox == {"pending": 1, "sending": 0, "delivered": 0, "dead": 1}
    assert "1 dead deliveries (see rotation-bot outbox)" in health.problems
    assert "outbox: pending 1, sending 0, delivered 0, dead 1" in render_lines(health)


def test_missing_outbox_table_is_not_an_error(fresh_db: Database) -> None:
    fresh_db["outbox"].drop()
    health = collect_health(fresh_db, NOW, SETTINGS)
    assert health.outbox is None
    assert "outbox: not created yet" in render_lines(health)


def test_a_stopped_service_is_not_running(fresh_db: Database) -> None:
    state = {"started_at": NOW.isoformat(), "stopped_at": NOW.isoformat()}
    service_state.set_state(fresh_db, state, NOW)
    assert not collect_health(fresh_db, NOW, SETTINGS).service_running


def test_an_empty_price_cache_is_a_problem_not_healthy(fresh_db: Database) -> None:
    evaluated(fresh_db, date(2025, 12, 1))
    service_state.set_state(fresh_db, {"heartbeat": NOW.isoformat()}, NOW)
    health = collect_health(fresh_db, NOW, SETTINGS)
    assert health.problems == ["no price data cached (run rotation-bot prices update)"]


def test_a_paused_destination_is_a_problem_with_its_reason_and_next_probe(
    fresh_db: Database,
) -> None:
    from datetime import timedelta

    from storage.outbox_health import clear_pause, record_failure

    since = NOW - timedelta(minutes=20)
    record_failure(fresh_db, "slack:C0DESK001", "first", probe_at=since, now=since)
    record_failure(
        fresh_db, "slack:C0DESK001", "HTTP 503", probe_at=NOW + timedelta(minutes=4), now=NOW
    )

    health = collect_health(fresh_db, NOW, SETTINGS)

    assert health.paused == [
        {
            "destination": "slack:C0DESK001",
            "failures": 2,
            "failing_since": since.isoformat(),
            "next_probe": (NOW + timedelta(minutes=4)).isoformat(),
            "last_error": "HTTP 503",
        }
    ]
    assert (
        "slack:C0DESK001 failing since 2025-12-01 22:40 UTC (2 tries; next 2025-12-01 23:04 UTC):"
        " HTTP 503; its alerts wait"
    ) in health.problems
    assert health.to_dict()["paused"][0]["destination"] == "slack:C0DESK001"
    clear_pause(fresh_db, "slack:C0DESK001")  # it answered: nothing to report any more
    assert collect_health(fresh_db, NOW, SETTINGS).paused == []


def test_a_secret_in_a_paused_destinations_error_is_redacted(fresh_db: Database) -> None:
    """`/status` shows the pause's error in a channel: a webhook token must not reach it."""
    from storage.outbox_health import record_failure

    hook = "https://discord.com/api/webhooks/123456789012345678/Zz-secret-"
    hook += "webhook-token-value" * 3
    settings = load_settings(None, discord_webhook_url=hook)
    record_failure(
        fresh_db,
        "discord:webhook:123456789",
        f"cannot reach Discord: {hook}",
        probe_at=NOW,
        now=NOW,
    )

    health = collect_health(fresh_db, NOW, settings)

    assert "Zz-secret-webhook-token-value" not in str(health.to_dict())
    assert "[redacted]" in health.paused[0]["last_error"]


def test_a_held_level_with_the_second_sources_daily_readings_is_one_lasting_run(
    fresh_db: Database,
) -> None:
    days = [date(2025, 11, 25), date(2025, 11, 26), date(2025, 11, 28)]
    upsert_bars(fresh_db, bars("^RUT", *days))
    own = "level +30.0 % since 2025-11-24 that IWM, IWC do not share"
    set_statuses(
        fresh_db,
        "^RUT",
        [
            (day, "suspect", f"{own}; second source Stooq ^rut has {70 + i}.00 on {day} (…)")
            for i, day in enumerate(days)
        ],
    )
    health = collect_health(fresh_db, NOW, SETTINGS)
    assert any("^RUT held as suspect since 2025-11-25 (3 bars)" in p for p in health.problems)
    [line] = [line for line in render_lines(health) if " → " in line]
    assert "2025-11-25 → 2025-11-28 (3 bars)" in line and "has 72.00 on 2025-11-28" in line

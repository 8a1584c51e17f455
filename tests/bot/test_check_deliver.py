"""`rotation-bot check --deliver`: evaluate, queue new alerts and deliver them once (CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storage.db import open_db
from storage.outbox import list_outbox
from tests.bot.test_signal_cli import TEST_RULES, fill, invoke
from tests.fakes.discord_api import FakeDiscord

CHANNEL = "111222333"


@pytest.fixture
def desk(
    db_path: Path, tmp_path: Path, fake_discord: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> FakeDiscord:
    """A test rule set, a Discord bot pointed at the fake, and a generous alert window."""
    rules = tmp_path / "rules.toml"
    rules.write_text(TEST_RULES, encoding="utf-8")
    monkeypatch.setenv("ROTATION_RULES", str(rules))
    monkeypatch.setenv("DISCORD_BOT_TOKEN", fake_discord.token)
    monkeypatch.setenv("DISCORD_CHANNEL_IDS", CHANNEL)
    monkeypatch.setenv("DISCORD_API_BASE", fake_discord.api_base)
    # The hand-made bars are from 2025; let events that old still alert.
    monkeypatch.setenv("ROTATION_CATCHUP_ALERT_DAYS", "3650")
    fill(db_path, "X", [1, 2, 1])
    # Primes the new rule silently; the hand-made 2025 bars are STALE today, hence exit 1.
    assert invoke(db_path, "check").exit_code == 1
    return fake_discord


def test_new_event_is_posted_once_across_repeated_checks(db_path: Path, desk: FakeDiscord) -> None:
    fill(db_path, "X", [3], start=3)
    first = invoke(db_path, "check", "--deliver", "--json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["delivery"] == {
        "alerts": 1, "too_old": 0, "delivered": 1, "retried": 0, "dead": 0, "pending": 0
    }  # fmt: skip
    titles = [m.embed["title"] for m in desk.messages]
    assert titles == ["▲ X closes at a new all-time high: 3.0000"]
    again = invoke(db_path, "check", "--deliver")
    assert again.exit_code == 0 and len(desk.messages) == 1
    (row,) = list_outbox(open_db(db_path))
    assert (row["status"], row["destination"]) == ("delivered", f"discord:{CHANNEL}")


def test_events_outside_the_alert_window_are_recorded_not_posted(
    db_path: Path, desk: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTATION_CATCHUP_ALERT_DAYS", "3")
    fill(db_path, "X", [3], start=3)
    result = invoke(db_path, "check", "--deliver", "--json")
    assert json.loads(result.stdout)["delivery"]["too_old"] == 1
    assert desk.messages == [] and list_outbox(open_db(db_path)) == []


def test_deliver_with_as_of_is_refused(db_path: Path, desk: FakeDiscord) -> None:
    result = invoke(db_path, "check", "--deliver", "--as-of", "2025-01-03")
    assert result.exit_code == 2 and "--deliver cannot be combined" in result.stderr


def test_a_retry_that_then_delivers_exits_0(
    db_path: Path, desk: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELIVERY_BASE_DELAY_SECONDS", "0.01")  # the CLI sleeps for real
    desk.fail_next(503)
    fill(db_path, "X", [3], start=3)
    result = invoke(db_path, "check", "--deliver", "--json")
    assert result.exit_code == 0, result.output
    delivery = json.loads(result.stdout)["delivery"]
    assert (delivery["retried"], delivery["delivered"], delivery["pending"]) == (1, 1, 0)
    assert len(desk.messages) == 1


def test_a_delivery_still_pending_exits_1(
    db_path: Path, desk: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELIVERY_MAX_WAIT_SECONDS", "0")  # give up the pass after one try
    desk.fail_next(503, times=5)
    fill(db_path, "X", [3], start=3)
    result = invoke(db_path, "check", "--deliver", "--json")
    assert result.exit_code == 1
    delivery = json.loads(result.stdout)["delivery"]
    assert (delivery["delivered"], delivery["dead"], delivery["pending"]) == (0, 0, 1)
    assert "pending 1" in result.stderr


def test_a_dead_delivery_exits_1(
    db_path: Path, desk: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "not-the-token")  # 401: permanent, dead at once
    fill(db_path, "X", [3], start=3)
    result = invoke(db_path, "check", "--deliver", "--json")
    assert result.exit_code == 1
    delivery = json.loads(result.stdout)["delivery"]
    assert (delivery["delivered"], delivery["dead"], delivery["pending"]) == (0, 1, 0)
    assert "not-the-token" not in result.output


def test_a_plain_check_before_deliver_takes_no_alert_away(db_path: Path, desk: FakeDiscord) -> None:
    """A look with `check` records the new event owed; `check --deliver` then posts it once."""
    fill(db_path, "X", [3], start=3)
    look = invoke(db_path, "check", "--json")
    # The hand-made 2025 bars are STALE today, hence exit 1; the new event is recorded all the same.
    assert look.exit_code == 1 and len(json.loads(look.stdout)["new_events"]) == 1
    assert desk.messages == [] and list_outbox(open_db(db_path)) == []  # nothing sent by a look
    assert invoke(db_path, "check").exit_code == 1  # a second look changes nothing (STALE: 1)
    result = invoke(db_path, "check", "--deliver", "--json")
    assert result.exit_code == 0, result.output
    delivery = json.loads(result.stdout)["delivery"]
    assert (delivery["alerts"], delivery["delivered"], delivery["pending"]) == (0, 1, 0)
    titles = [m.embed["title"] for m in desk.messages]
    assert titles == ["▲ X closes at a new all-time high: 3.0000"]
    assert invoke(db_path, "check", "--deliver").exit_code == 0 and len(desk.messages) == 1


def test_a_plain_check_before_the_service_leaves_it_every_alert(
    db_path: Path, desk: FakeDiscord
) -> None:
    """The service's next delivery pass (on the leader) queues and posts what `check` owed."""
    import asyncio

    from bot.config import load_settings
    from bot.service.jobs import ServiceJobs

    fill(db_path, "X", [3], start=3)
    assert (
        invoke(db_path, "check").exit_code == 1
    )  # the hand-made 2025 bars are STALE today: exit 1
    jobs = ServiceJobs(load_settings(None, db_path=db_path), db_path, network=False)
    try:
        assert asyncio.run(jobs.deliver()) == {"delivered": 1, "retried": 0, "dead": 0}
        assert asyncio.run(jobs.deliver()) == {"delivered": 0, "retried": 0, "dead": 0}
    finally:
        jobs.close()
    assert [m.embed["title"] for m in desk.messages] == [
        "▲ X closes at a new all-time high: 3.0000"
    ]

"""A process SIGKILLed at a commit point of an alert's path loses and repeats nothing.

Real `rotation-bot check --deliver` and `run` processes, killed by the test hook
(bot/crash_points.py) and started again; the Discord stand-in counts what arrived. A
representative set: `bench/crash_points.py` runs every point on both engines, several times.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.db import open_db
from storage.prices import last_dates
from tests.bot.test_signal_cli import DAYS
from tests.fakes import crash_kit
from tests.fakes.discord_api import FakeDiscord
from tests.pg_cluster import Cluster


@pytest.fixture(scope="module")
def discord() -> Iterator[FakeDiscord]:
    """The stand-in, with no nonce window: only the sender's look-up may prevent a repeat."""
    fake = FakeDiscord(nonce_window=0).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crash")


@pytest.fixture(scope="module")
def env(folder: Path, discord: FakeDiscord) -> dict[str, str]:
    return crash_kit.base_env(folder, discord)


@pytest.fixture(scope="module")
def sqlite_template(folder: Path, env: dict[str, str]) -> str:
    template = str(folder / "template.db")
    crash_kit.prepare_template(template, env)
    return template


def assert_exactly_once(outcome: crash_kit.Outcome) -> None:
    assert outcome.killed, "the crash point was never reached"
    assert (outcome.lost, outcome.repeated, outcome.out_of_order) == (0, 0, False)
    assert len(outcome.received) == 7


def test_check_deliver_killed_between_record_and_queue_posts_every_alert_once(
    folder: Path, env: dict[str, str], discord: FakeDiscord, sqlite_template: str
) -> None:
    """Events on record, nothing queued: before alerts owed, these seven were lost for good."""
    target = crash_kit.copy_of(sqlite_template, folder, "check_recorded")
    assert_exactly_once(crash_kit.trial("check", target, env, discord, "recorded:1"))


def test_a_service_killed_after_recording_posts_every_alert_once(
    folder: Path, env: dict[str, str], discord: FakeDiscord, sqlite_template: str
) -> None:
    """The catch-up's second session recorded, then killed: the restart queues what is owed."""
    target = crash_kit.copy_of(sqlite_template, folder, "run_recorded")
    assert_exactly_once(crash_kit.trial("run", target, env, discord, "recorded:2"))


def test_check_deliver_on_postgresql_killed_after_queueing(
    folder: Path, env: dict[str, str], discord: FakeDiscord, pg_cluster: Cluster
) -> None:
    template = pg_cluster.new_database()
    try:
        crash_kit.prepare_template(template, env)
        target = crash_kit.copy_of(template, folder, "crash_pg_queued", pg_cluster)
        try:
            assert_exactly_once(crash_kit.trial("check", target, env, discord, "queued:2"))
        finally:
            pg_cluster.drop_database(target)
    finally:
        pg_cluster.drop_database(template)


def test_a_fetching_service_killed_after_storing_the_new_bars_posts_every_alert_once(
    folder: Path, env: dict[str, str], discord: FakeDiscord
) -> None:
    """`prices`: the catch-up's first refresh stored bars that fire (from the Yahoo stand-in,
    through the real yfinance), then killed before evaluating; the restart posts them all."""
    yahoo = crash_kit.start_yahoo(folder)
    try:
        fetching = crash_kit.fetch_env(env, yahoo, folder)
        target = str(folder / "run_prices.db")
        crash_kit.prepare_fetch_template(target, fetching)
        assert crash_kit.expected(target) == []  # nothing fires on the bars stored before
        outcome = crash_kit.trial(
            "run-fetching", target, fetching, discord, "prices:1", bars_stored_nothing_recorded
        )
        assert_exactly_once(outcome)
        assert yahoo.chart_requests("A") >= 2  # the bars came by the refresh, before and after
    finally:
        yahoo.__exit__()


def bars_stored_nothing_recorded(target: str) -> None:
    """Killed at `prices`: the catch-up's first refresh (as of DAYS[3], where A and C fire)
    committed the bars up to that session; no event is on record yet."""
    db = open_db(target, migrate=False)
    try:
        stored = last_dates(db, final_only=False)
    finally:
        db.close()
    assert {symbol: stored.get(symbol) for symbol in crash_kit.SYMBOLS} == dict.fromkeys(
        crash_kit.SYMBOLS, DAYS[3]
    )
    assert crash_kit.expected(target) == []

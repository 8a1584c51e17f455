"""The real jobs against the local fake Yahoo and FRED: live fetches, replay fetches nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.calendar import NEW_YORK
from bot.config import Settings, load_settings
from bot.service.fetch_outage import StaleEvaluation
from bot.service.jobs import ServiceJobs, replay_copy
from bot.sources.base import FetchInterrupted
from signals.models import PriceBar
from storage import service_state
from storage.db import open_db
from storage.outbox import list_outbox
from storage.prices import tail_rows, upsert_bars
from storage.series import load_series
from tests.fakes.fred import FakeFred, serve_fred
from tests.fakes.french import FakeFrench, serve_french
from tests.fakes.yahoo import DATA, FakeYahoo, start_fake_yahoo

IWB = DATA / "chart-IWB-dividend-2026-06-05-to-2026-06-11.json"
AFTER_CLOSE = datetime(2026, 6, 11, 16, 20, tzinfo=NEW_YORK).astimezone(UTC)


@pytest.fixture
def yahoo(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeYahoo]:
    for fake in start_fake_yahoo(monkeypatch):
        fake.add_fixture(IWB)
        yield fake


@pytest.fixture
def fred() -> Iterator[FakeFred]:
    with serve_fred(
        FakeFred(series={"DGS10": [("2026-06-10", "4.41"), ("2026-06-11", "4.38")]})
    ) as fake:
        yield fake


def settings_for(yahoo: FakeYahoo, fred: FakeFred, db_path: Path) -> Settings:
    return load_settings(
        None,
        db_path=db_path,
        yahoo_url=yahoo.base_url,
        fred_url=fred.url,
        fred_series=("DGS10",),
        french_url="",  # no French library download here (tests/bot/test_french_source.py)
        fetch_retries=0,
        history_start="2026-06-01",
    )


async def test_live_jobs_fetch_evaluate_snapshot_and_deliver(
    yahoo: FakeYahoo, fred: FakeFred, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    open_db(db_path).close()
    jobs = ServiceJobs(settings_for(yahoo, fred, db_path), db_path)
    caplog.set_level(logging.WARNING, logger="bot.service.jobs")

    summary = await jobs.refresh_intraday(AFTER_CLOSE)
    # No rule has its data (the fake knows IWB only): the run is stale, never "ok" (issue 18).
    with pytest.raises(StaleEvaluation, match="9 rule"):
        await jobs.evaluate_session(date(2026, 6, 11), AFTER_CLOSE, alert=True)
    snapshot = await jobs.snapshot_after_close(date(2026, 6, 11), AFTER_CLOSE)
    delivered = await jobs.deliver()
    jobs.close()

    assert "failed" in summary  # the fake knows IWB only; every other symbol is reported
    # ... and the operator is told which rules could not be evaluated, and why.
    (warning,) = [r.getMessage() for r in caplog.records if "not evaluated" in r.getMessage()]
    assert "rule(s) not evaluated for 2026-06-11" in warning
    assert "iwc-overtakes-oef-ytd NO DATA" in warning
    assert "2 FRED points, 0 series failed" in snapshot
    assert delivered == {"delivered": 0, "retried": 0, "dead": 0}
    db = open_db(db_path)
    assert [row["date"] for row in tail_rows(db, "IWB", 5)][-1] == "2026-06-11"
    assert list(load_series(db, ["DGS10"])["DGS10"]) == [4.41, 4.38]


INTRADAY_RULES = """
[[rules]]
id = "iwm-high-intraday"
type = "new_high"
name = "IWM new high (intraday)"
symbol = "IWM"
basis = "close"
min_history = 2
intraday = true

[[rules]]
id = "iwm-high-at-close"
type = "new_high"
name = "IWM new high (final bars only)"
symbol = "IWM"
basis = "close"
min_history = 2
"""


async def test_intraday_refresh_lets_only_intraday_rules_fire_on_provisional_bars(
    yahoo: FakeYahoo, fred: FakeFred, db_path: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(INTRADAY_RULES)
    open_db(db_path).close()
    settings = settings_for(yahoo, fred, db_path).model_copy(update={"rules_path": rules})
    db = open_db(db_path)
    closes = {8: 100.0, 9: 105.0, 10: 95.0, 11: 96.0}  # a record, then a pullback re-arms
    upsert_bars(db, [PriceBar("IWM", date(2026, 6, d), close=c) for d, c in closes.items()])
    jobs = ServiceJobs(settings, db_path)
    await jobs.evaluate_session(date(2026, 6, 11), AFTER_CLOSE, alert=True)  # primes both
    # Friday noon: the bar of the day so far is provisional and above the record.
    upsert_bars(db, [PriceBar("IWM", date(2026, 6, 12), close=110.0, final=False)])
    noon = datetime(2026, 6, 12, 12, 0, tzinfo=NEW_YORK).astimezone(UTC)

    summary = await jobs.refresh_intraday(noon)
    again = await jobs.refresh_intraday(noon)
    keys = [row["dedupe_key"] for row in list_outbox(db)]
    # The close confirms the high: the final-bar rule fires, the intraday one is not re-sent.
    upsert_bars(db, [PriceBar("IWM", date(2026, 6, 12), close=108.0)])
    after_close = datetime(2026, 6, 12, 16, 20, tzinfo=NEW_YORK).astimezone(UTC)
    assert await jobs.evaluate_session(date(2026, 6, 12), after_close, alert=True) == 1
    jobs.close()

    assert summary.endswith("; 1 intraday event(s)")
    assert again.endswith("; 0 intraday event(s)")  # recorded once, never re-alerted
    assert keys == ["iwm-high-intraday:2026-06-12:fired"]
    assert [row["dedupe_key"] for row in list_outbox(db)] == [
        "iwm-high-intraday:2026-06-12:fired",
        "iwm-high-at-close:2026-06-12:fired",
    ]


async def test_one_failing_fred_series_is_logged_and_the_others_still_refresh(
    yahoo: FakeYahoo, fred: FakeFred, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    open_db(db_path).close()
    settings = settings_for(yahoo, fred, db_path).model_copy(
        update={"fred_series": ("NOSUCH", "DGS10")}
    )
    jobs = ServiceJobs(settings, db_path)
    with caplog.at_level(logging.WARNING):
        snapshot = await jobs.snapshot_after_close(date(2026, 6, 11), AFTER_CLOSE)
    jobs.close()

    assert "2 FRED points, 1 series failed" in snapshot
    assert "FRED refresh of NOSUCH failed" in caplog.text
    assert list(load_series(open_db(db_path), ["DGS10"])["DGS10"]) == [4.41, 4.38]


async def test_replay_jobs_never_touch_the_network(
    yahoo: FakeYahoo, fred: FakeFred, db_path: Path, tmp_path: Path
) -> None:
    db = open_db(db_path)
    service_state.record_run(
        db, {"job": "evaluate", "session": "2026-06-10", "outcome": "ok", "started_at": "x"}
    )
    db.close()
    copy = replay_copy(db_path, tmp_path / "replay.db")
    jobs = ServiceJobs(settings_for(yahoo, fred, copy), copy, network=False)

    assert await jobs.refresh_intraday(AFTER_CLOSE) == "replay: no fetch"
    assert await jobs.snapshot_after_close(date(2026, 6, 11), AFTER_CLOSE) == "replay: no fetch"
    assert await jobs.evaluate_session(date(2026, 6, 11), AFTER_CLOSE, alert=True) == 0

    assert yahoo.requests == [] and fred.requests == []
    assert service_state.last_evaluated_session(open_db(copy)) is None  # the copy starts clean
    assert service_state.last_evaluated_session(open_db(db_path)) == date(2026, 6, 10)


async def test_a_stop_cuts_a_fred_backoff_short(
    yahoo: FakeYahoo, fred: FakeFred, db_path: Path
) -> None:
    open_db(db_path).close()
    settings = settings_for(yahoo, fred, db_path).model_copy(update={"fetch_retries": 6})
    fred.fail_next("DGS10", *[503] * 7)  # backoff 1, 2, 4, … s: half a minute in all
    jobs = ServiceJobs(settings, db_path)
    snapshot = asyncio.create_task(jobs.snapshot_after_close(date(2026, 6, 11), AFTER_CLOSE))
    for _ in range(200):  # until FRED's first answer sent the job into its backoff
        if fred.requests:
            break
        await asyncio.sleep(0.05)
    jobs.stop()
    with pytest.raises(FetchInterrupted):
        await asyncio.wait_for(snapshot, 5)  # the worker records it as "interrupted"
    jobs.close()
    assert len(fred.requests) == 1


async def test_snapshot_fetches_the_french_file_about_monthly(
    yahoo: FakeYahoo, fred: FakeFred, db_path: Path, shared_data: Path
) -> None:
    zip_path = shared_data / "valuation" / "25_Portfolios_5x5_CSV_202510.zip"
    if not zip_path.is_file():
        pytest.skip(f"the French library files are not in {zip_path.parent}")
    open_db(db_path).close()
    with serve_french(FakeFrench(zip_bytes=zip_path.read_bytes())) as french:
        settings = settings_for(yahoo, fred, db_path).model_copy(update={"french_url": french.url})
        jobs = ServiceJobs(settings, db_path)
        first = await jobs.snapshot_after_close(date(2026, 6, 11), AFTER_CLOSE)
        soon = await jobs.snapshot_after_close(date(2026, 6, 11), AFTER_CLOSE + timedelta(hours=2))
        asked = len(french.requests)
        next_day = await jobs.snapshot_after_close(
            date(2026, 6, 12), AFTER_CLOSE + timedelta(days=1)
        )
        jobs.close()
    assert "French vintage 202510, 1192 new month(s)" in first
    assert "French" not in soon and asked == 1  # looked today already
    # October 2025's data is long out of date in June 2026: look again (once a day).
    assert "French vintage 202510, 0 new month(s)" in next_day and len(french.requests) == 2
    assert (
        len(load_series(open_db(db_path), ["ff:pb_small_vs_large"])["ff:pb_small_vs_large"]) == 1192
    )

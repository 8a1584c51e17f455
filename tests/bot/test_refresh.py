"""refresh_prices / refresh_pe: real YahooSource against the fake Yahoo, real SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import pytest
from sqlite_utils import Database

from bot.sources.refresh import refetch_suspects, refresh_pe, refresh_prices
from bot.sources.yahoo import YahooSource
from signals.models import PriceBar
from storage.prices import count_rows, set_statuses, tail_rows, upsert_bars
from storage.series import load_series
from tests.fakes.yahoo import DATA, OK, FakeYahoo, start_fake_yahoo

IWM = DATA / "chart-IWM-2026-11-16-to-2026-11-20.json"
AFTER_CLOSE = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)
MIDDAY = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
TODAY = date(2026, 11, 20)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeYahoo]:
    yield from start_fake_yahoo(monkeypatch)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def refresh(db: Database, source: YahooSource, symbols: list[str], overlap: int = 2) -> Any:
    return refresh_prices(
        db,
        source,
        symbols,
        history_start=date(2026, 11, 1),
        overlap_sessions=overlap,
        today=TODAY,
    )


def quote(fake: FakeYahoo, symbol: str) -> dict[str, Any]:
    """The served chart's result, to edit as Yahoo would revise it."""
    return fake.charts[symbol]["chart"]["result"][0]


def period1_dates(fake: FakeYahoo, symbol: str) -> list[date]:
    """The start dates (New York) of the history requests the fake saw for a symbol."""
    starts = []
    for path in fake.requests:
        if f"/chart/{symbol}?" in path and "period1=" in path:
            stamp = int(path.split("period1=")[1].split("&")[0])
            starts.append(pd.Timestamp(stamp, unit="s", tz="America/New_York").date())
    return starts


def test_first_refresh_stores_history_and_a_second_identical_one_changes_nothing(
    fake: FakeYahoo, fresh_db: Database
) -> None:
    fake.add_fixture(IWM)
    source = YahooSource(session=fake.session(), clock=Clock(AFTER_CLOSE), sleep=lambda s: None)
    first = refresh(fresh_db, source, ["IWM"])
    assert first.ok and first.rows_changed == 5
    assert (first.symbols[0].start, first.symbols[0].last_date) == (date(2026, 11, 1), TODAY)
    rows = tail_rows(fresh_db, "IWM", 10)
    assert [r["date"] for r in rows] == [f"2026-11-{day}" for day in range(16, 21)]
    assert (rows[0]["close"], rows[0]["adj_close"], rows[0]["volume"], rows[0]["final"]) == (
        241.6,
        241.6,
        31000000.0,
        1,
    )
    assert rows[0]["source"] == "yahoo"

    second = refresh(fresh_db, source, ["IWM"])
    assert second.ok and second.rows_changed == 0 and second.symbols[0].fetched == 3
    # Incremental: last final session (20th) minus 2 sessions of overlap.
    assert period1_dates(fake, "IWM") == [date(2026, 11, 1), date(2026, 11, 18)]


def test_revised_bar_inside_the_overlap_is_updated(fake: FakeYahoo, fresh_db: Database) -> None:
    fake.add_fixture(IWM)
    source = YahooSource(session=fake.session(), clock=Clock(AFTER_CLOSE), sleep=lambda s: None)
    refresh(fresh_db, source, ["IWM"])
    quote(fake, "IWM")["indicators"]["quote"][0]["volume"][3] = 27500000  # 19th revised
    report = refresh(fresh_db, source, ["IWM"])
    assert report.rows_changed == 1 and not report.symbols[0].rebased
    assert tail_rows(fresh_db, "IWM", 2)[0]["volume"] == 27500000.0


def test_dividend_rescaling_old_adj_close_refetches_the_whole_history(
    fake: FakeYahoo, fresh_db: Database
) -> None:
    fake.add_fixture(IWM)
    source = YahooSource(session=fake.session(), clock=Clock(AFTER_CLOSE), sleep=lambda s: None)
    refresh(fresh_db, source, ["IWM"], overlap=1)
    adjclose = quote(fake, "IWM")["indicators"]["adjclose"][0]["adjclose"]
    adjclose[:4] = [round(value * 0.99, 4) for value in adjclose[:4]]  # ex-date on the 20th
    report = refresh(fresh_db, source, ["IWM"], overlap=1)
    item = report.symbols[0]
    assert item.rebased and item.changed == 4
    assert period1_dates(fake, "IWM")[-1] == date(2026, 11, 16)  # from the first cached date
    stored = [r["adj_close"] for r in tail_rows(fresh_db, "IWM", 5)]
    assert stored == [239.184, 237.501, 239.283, 240.768, 244.9]


def test_rebased_symbol_whose_full_refetch_fails_writes_nothing(
    fake: FakeYahoo, fresh_db: Database
) -> None:
    fake.add_fixture(IWM)
    source = YahooSource(session=fake.session(), clock=Clock(AFTER_CLOSE), sleep=lambda s: None)
    refresh(fresh_db, source, ["IWM"], overlap=1)
    before = tail_rows(fresh_db, "IWM", 5)
    adjclose = quote(fake, "IWM")["indicators"]["adjclose"][0]["adjclose"]
    adjclose[:4] = [value * 0.99 for value in adjclose[:4]]
    # The incremental fetch works, the full refetch does not (yfinance asks twice on a 404).
    fake.fail("IWM", OK, 404, 404)
    report = refresh(fresh_db, source, ["IWM"], overlap=1)
    assert report.failures == {
        "IWM": "history was re-based but the full refetch failed: "
        "unknown symbol: Yahoo has no data for IWM (HTTP 404)"
    }
    assert tail_rows(fresh_db, "IWM", 5) == before


def test_failed_symbol_writes_nothing_and_others_are_stored(
    fake: FakeYahoo, fresh_db: Database
) -> None:
    fake.add_fixture(IWM)
    source = YahooSource(session=fake.session(), clock=Clock(AFTER_CLOSE), sleep=lambda s: None)
    report = refresh(fresh_db, source, ["IWM", "NOPE"])
    assert report.failures == {"NOPE": "unknown symbol: Yahoo has no data for NOPE (HTTP 404)"}
    assert count_rows(fresh_db, "NOPE") == 0 and count_rows(fresh_db, "IWM") == 5


def test_provisional_bar_is_replaced_once_the_session_closed(
    fake: FakeYahoo, fresh_db: Database
) -> None:
    fake.add_fixture(IWM)
    clock = Clock(MIDDAY)
    source = YahooSource(session=fake.session(), clock=clock, sleep=lambda s: None)
    report = refresh(fresh_db, source, ["IWM"])
    assert report.symbols[0].provisional
    assert [r["final"] for r in tail_rows(fresh_db, "IWM", 5)] == [1, 1, 1, 1, 0]

    quote(fake, "IWM")["indicators"]["quote"][0]["close"][4] = 245.3  # the closing print
    clock.now = AFTER_CLOSE
    report = refresh(fresh_db, source, ["IWM"])
    assert not report.symbols[0].provisional and report.rows_changed == 1
    last = tail_rows(fresh_db, "IWM", 1)[0]
    assert (last["date"], last["close"], last["final"]) == ("2026-11-20", 245.3, 1)


def test_refresh_pe_stores_snapshots_idempotently(fake: FakeYahoo, fresh_db: Database) -> None:
    fake.pe.update({"IWB": 24.31, "IWM": 17.8})
    source = YahooSource(session=fake.session(), clock=Clock(AFTER_CLOSE), sleep=lambda s: None)
    stored = refresh_pe(fresh_db, source, ["IWB", "IWM", "NOPE"])
    assert stored.changed == 2 and set(stored.failures) == {"NOPE"}
    series = load_series(fresh_db, ["pe:IWB", "pe:IWM"])
    assert series["pe:IWB"].to_dict() == {pd.Timestamp("2026-11-20"): 24.31}
    assert series["pe:IWM"].iloc[-1] == 17.8
    assert refresh_pe(fresh_db, source, ["IWB", "IWM"]).changed == 0


def test_suspect_bars_are_fetched_again_even_behind_the_overlap(fresh_db: Database) -> None:
    bars = [PriceBar("IWM", date(2026, 11, d), close=240.0 + d) for d in (16, 17, 18, 19, 20)]
    upsert_bars(fresh_db, bars)
    set_statuses(fresh_db, "IWM", [(date(2026, 11, 17), "suspect", "one-day move")])
    starts = {"IWM": date(2026, 11, 19), "SPY": date(2026, 11, 19)}
    assert refetch_suspects(fresh_db, starts) == {
        "IWM": date(2026, 11, 17),
        "SPY": date(2026, 11, 19),
    }

"""Issue 13 item 2: a refresh asks Yahoo only for what it lacks, at most once per symbol.

Real YahooSource and yfinance against the Yahoo stand-in (which records every request), real
SQLite. The week of 2026-11-16 (Mon) to 2026-11-20 (Fri) for IWM and ^RUT.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlite_utils import Database

from bot.sources.refresh import RefreshReport, refresh_prices, settled_session
from bot.sources.yahoo import YahooSource
from storage.prices import set_statuses
from tests.fakes.yahoo import DATA, FakeYahoo, start_fake_yahoo

IWM = DATA / "chart-IWM-2026-11-16-to-2026-11-20.json"
RUT = DATA / "chart-RUT-index-2026-11-16-to-2026-11-20.json"
THURSDAY_EVENING = datetime(2026, 11, 19, 22, 0, tzinfo=UTC)
FRIDAY_EVENING = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)  # the close was 21:00 UTC
FRIDAY_MIDDAY = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
SYMBOLS = ["IWM", "^RUT"]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeYahoo]:
    for fake in start_fake_yahoo(monkeypatch):
        fake.add_fixture(IWM)
        fake.add_fixture(RUT)
        yield fake


def refresh(db: Database, fake: FakeYahoo, now: datetime) -> RefreshReport:
    """One refresh at `now`, with the stand-in's request log emptied first."""
    fake.requests.clear()
    source = YahooSource(session=fake.session(), clock=lambda: now, sleep=lambda s: None)
    return refresh_prices(
        db,
        source,
        SYMBOLS,
        history_start=date(2026, 11, 1),
        overlap_sessions=5,
        today=now.date(),
        now=now,
    )


def chart_requests(fake: FakeYahoo) -> dict[str, int]:
    return {"IWM": fake.chart_requests("IWM"), "^RUT": fake.chart_requests("%5ERUT")}


def test_empty_cache_asks_once_per_symbol(fake: FakeYahoo, fresh_db: Database) -> None:
    report = refresh(fresh_db, fake, FRIDAY_EVENING)
    assert report.ok and report.rows_changed == 9
    assert chart_requests(fake) == {"IWM": 1, "^RUT": 1}  # no time-zone lookup besides


def test_current_cache_asks_for_nothing_at_all(fake: FakeYahoo, fresh_db: Database) -> None:
    refresh(fresh_db, fake, FRIDAY_EVENING)
    for now in (FRIDAY_EVENING, SATURDAY):
        report = refresh(fresh_db, fake, now)
        assert fake.requests == []  # not a chart, not even a cookie or a crumb
        assert report.ok and report.rows_changed == 0
        assert [item.up_to_date for item in report.symbols] == [True, True]


def test_a_session_behind_asks_once_per_symbol(fake: FakeYahoo, fresh_db: Database) -> None:
    refresh(fresh_db, fake, THURSDAY_EVENING)
    report = refresh(fresh_db, fake, FRIDAY_EVENING)
    assert chart_requests(fake) == {"IWM": 1, "^RUT": 1}
    assert [item.last_date for item in report.symbols] == [date(2026, 11, 20)] * 2


def test_while_the_session_trades_its_provisional_bar_is_asked_for(
    fake: FakeYahoo, fresh_db: Database
) -> None:
    refresh(fresh_db, fake, THURSDAY_EVENING)
    report = refresh(fresh_db, fake, FRIDAY_MIDDAY)
    assert chart_requests(fake) == {"IWM": 1, "^RUT": 1}
    assert all(item.provisional for item in report.symbols)


def test_a_suspect_bar_is_fetched_again_in_the_symbols_one_request(
    fake: FakeYahoo, fresh_db: Database
) -> None:
    refresh(fresh_db, fake, FRIDAY_EVENING)
    set_statuses(fresh_db, "IWM", [(date(2026, 11, 17), "suspect", "one-day move")])
    report = refresh(fresh_db, fake, FRIDAY_EVENING)
    assert chart_requests(fake) == {"IWM": 1, "^RUT": 0}
    (iwm, rut) = report.symbols
    assert iwm.start == date(2026, 11, 13) and not iwm.up_to_date and rut.up_to_date


def test_settled_session_is_none_while_a_session_trades() -> None:
    assert settled_session(FRIDAY_MIDDAY) is None
    assert settled_session(datetime(2026, 11, 20, 13, 0, tzinfo=UTC)) == date(2026, 11, 19)
    assert settled_session(FRIDAY_EVENING) == date(2026, 11, 20)
    assert settled_session(SATURDAY) == date(2026, 11, 20)

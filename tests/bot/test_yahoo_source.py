"""YahooSource through the real yfinance code against the local fake Yahoo (tests/fakes/yahoo)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.sources.yahoo import YahooSession, YahooSource
from signals.models import PriceBar
from tests.fakes.yahoo import (
    DATA,
    HANG,
    FakeYahoo,
    load_chart,
    slice_chart,
    start_fake_yahoo,
)

AFTER_CLOSE = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)  # Friday, NYSE closed at 21:00 UTC
IWM = DATA / "chart-IWM-2026-11-16-to-2026-11-20.json"
RUT = DATA / "chart-RUT-index-2026-11-16-to-2026-11-20.json"
IWB = DATA / "chart-IWB-dividend-2026-06-05-to-2026-06-11.json"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeYahoo]:
    yield from start_fake_yahoo(monkeypatch)


@pytest.fixture
def recorded(shared_data: Path) -> Path:
    return shared_data / "yahoo_chart"


def make_source(
    session: YahooSession, sleeps: list[float], now: datetime = AFTER_CLOSE, **kwargs: object
) -> YahooSource:
    return YahooSource(session=session, clock=lambda: now, sleep=sleeps.append, **kwargs)


def by_date(bars: list[PriceBar]) -> dict[date, PriceBar]:
    return {bar.date: bar for bar in bars}


def test_normal_history_is_delivered_exactly_as_served(fake: FakeYahoo) -> None:
    fake.add_fixture(IWM)
    result = make_source(fake.session(), []).fetch({"IWM": date(2026, 11, 16)})
    assert result.ok
    bars = result.bars["IWM"]
    assert [bar.date.day for bar in bars] == [16, 17, 18, 19, 20]
    assert bars[0] == PriceBar(
        "IWM", date(2026, 11, 16), 240.1, 242.0, 239.5, 241.6, 241.6, 31000000.0, True, "yahoo"
    )
    assert bars[-1].close == 244.9 and bars[-1].final


def test_only_bars_from_each_symbols_start_are_returned(fake: FakeYahoo) -> None:
    fake.add_fixture(IWM)
    fake.add_fixture(RUT)
    starts = {"IWM": date(2026, 11, 19), "^RUT": date(2026, 11, 16)}
    result = make_source(fake.session(), []).fetch(starts)
    assert [bar.date.day for bar in result.bars["IWM"]] == [19, 20]
    # The session Yahoo left empty for ^RUT is not invented (yfinance reindexes onto IWM's dates).
    assert [bar.date.day for bar in result.bars["^RUT"]] == [16, 17, 18, 20]
    assert {bar.volume for bar in result.bars["^RUT"]} == {0.0}


def test_symbol_whose_bars_stop_days_before_the_others_is_reported(fake: FakeYahoo) -> None:
    fake.add_fixture(IWM)
    nov_17 = int(datetime(2026, 11, 17, tzinfo=UTC).timestamp())
    fake.add_chart(slice_chart(load_chart(RUT), None, nov_17))  # ^RUT stuck on the 16th
    result = make_source(fake.session(), []).fetch(
        {"IWM": date(2026, 11, 16), "^RUT": date(2026, 11, 16)}
    )
    assert list(result.bars) == ["IWM"]
    assert result.failures == {
        "^RUT": "partial result: Yahoo's bars stop at 2026-11-16, other symbols reach 2026-11-20"
    }


def test_dividend_adj_close_below_close_before_the_ex_date(fake: FakeYahoo) -> None:
    fake.add_fixture(IWB)
    bars = by_date(make_source(fake.session(), []).fetch({"IWB": date(2026, 6, 1)}).bars["IWB"])
    factor = 1 - 0.90 / 361.0
    for day in (5, 8, 9):
        bar = bars[date(2026, 6, day)]
        assert bar.adj_close == round(bar.close * factor, 6) < bar.close
    for day in (10, 11):
        assert bars[date(2026, 6, day)].adj_close == bars[date(2026, 6, day)].close


def test_bar_of_the_session_still_trading_is_provisional(fake: FakeYahoo) -> None:
    fake.add_fixture(IWM)
    midday = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
    bars = make_source(fake.session(), [], now=midday).fetch({"IWM": date(2026, 11, 16)}).bars
    assert [bar.final for bar in bars["IWM"]] == [True, True, True, True, False]


def test_unknown_symbol_is_reported_and_the_others_still_arrive(fake: FakeYahoo) -> None:
    fake.add_fixture(IWM)
    sleeps: list[float] = []
    result = make_source(fake.session(), sleeps).fetch(
        {"IWM": date(2026, 11, 16), "NOPE": date(2026, 11, 16)}
    )
    assert len(result.bars["IWM"]) == 5
    assert "NOPE" not in result.bars
    assert result.failures == {"NOPE": "unknown symbol: Yahoo has no data for NOPE (HTTP 404)"}
    assert sleeps == []  # a 404 is not retried


def test_empty_result_is_a_failure_not_silence(fake: FakeYahoo) -> None:
    fake.add_fixture(IWM)
    result = make_source(fake.session(), []).fetch({"IWM": date(2026, 11, 21)})
    assert result.bars == {}
    assert result.failures == {"IWM": "empty result: Yahoo returned no bars since 2026-11-21"}


def test_rate_limit_is_retried_with_backoff_then_succeeds(fake: FakeYahoo) -> None:
    fake.add_fixture(IWM)
    fake.add_fixture(RUT)
    fake.fail("IWM", 429, 429)  # yfinance itself retries once with its other cookie strategy
    sleeps: list[float] = []
    result = make_source(fake.session(), sleeps).fetch(
        {"IWM": date(2026, 11, 16), "^RUT": date(2026, 11, 16)}
    )
    assert result.ok and len(result.bars["IWM"]) == 5 and len(result.bars["^RUT"]) == 4
    assert len(sleeps) == 1 and 1.0 <= sleeps[0] <= 2.0  # initial backoff 1 s plus jitter
    assert fake.chart_requests("%5ERUT") + fake.chart_requests("^RUT") == 1  # not refetched


def test_persistent_rate_limit_is_reported_after_the_last_retry(fake: FakeYahoo) -> None:
    fake.add_fixture(IWM)
    fake.add_fixture(RUT)
    fake.fail("IWM", *[429] * 20)
    sleeps: list[float] = []
    result = make_source(fake.session(), sleeps, retries=2).fetch(
        {"IWM": date(2026, 11, 16), "^RUT": date(2026, 11, 16)}
    )
    assert result.failures == {"IWM": "rate limited by Yahoo (HTTP 429) (gave up after 3 attempts)"}
    assert len(result.bars["^RUT"]) == 4
    assert len(sleeps) == 2 and sleeps[1] >= 2.0  # exponential: 1 s, then 2 s (+ jitter)


def test_server_error_then_recovery(fake: FakeYahoo) -> None:
    fake.add_fixture(IWM)
    fake.fail("IWM", 503, 503)
    sleeps: list[float] = []
    result = make_source(fake.session(), sleeps).fetch({"IWM": date(2026, 11, 16)})
    assert result.ok and len(result.bars["IWM"]) == 5
    assert len(sleeps) == 1


def test_persistent_server_error_is_reported(fake: FakeYahoo) -> None:
    fake.add_fixture(IWM)
    fake.fail("IWM", *[500] * 20)
    result = make_source(fake.session(), [], retries=1).fetch({"IWM": date(2026, 11, 16)})
    assert result.failures == {"IWM": "Yahoo server error (HTTP 500) (gave up after 2 attempts)"}


def test_timeout_is_retried(fake: FakeYahoo) -> None:
    fake.add_fixture(IWM)
    fake.fail("IWM", HANG)  # no timezone lookup first: the one chart request hangs
    sleeps: list[float] = []
    result = make_source(fake.session(), sleeps, timeout=0.3).fetch({"IWM": date(2026, 11, 16)})
    assert result.ok and len(result.bars["IWM"]) == 5
    assert len(sleeps) == 1


def test_no_network_gives_one_clear_reason_per_symbol(fake: FakeYahoo) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = YahooSession(f"http://127.0.0.1:{port}")
    sleeps: list[float] = []
    result = make_source(dead, sleeps, retries=1, timeout=2).fetch(
        {"IWM": date(2026, 11, 16), "SPY": date(2026, 11, 16)}
    )
    assert result.bars == {}
    assert set(result.failures) == {"IWM", "SPY"}
    for reason in result.failures.values():
        assert reason.startswith("cannot reach Yahoo Finance (")
        assert reason.endswith("(gave up after 2 attempts)") and "\n" not in reason
    assert len(sleeps) == 1


def test_trailing_pe_is_dated_the_last_session(fake: FakeYahoo) -> None:
    fake.add_fixture(IWM)
    fake.pe.update({"IWB": 24.31, "IWM": None})
    failures: dict[str, str] = {}
    saturday = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
    source = make_source(fake.session(), [], now=saturday)
    points = source.fetch_trailing_pe(["IWB", "IWM", "NOPE"], failures=failures)
    assert [(p.series_id, p.date, p.value, p.source) for p in points] == [
        ("pe:IWB", date(2026, 11, 20), 24.31, "yahoo")
    ]
    assert failures == {
        "IWM": "Yahoo has no trailing P/E for IWM",
        "NOPE": "Yahoo has no trailing P/E for NOPE",
    }


def test_trailing_pe_rate_limit_is_retried(fake: FakeYahoo) -> None:
    fake.pe["IWB"] = 24.31
    fake.fail("summary:IWB", 429, 429)  # yfinance retries once itself, then raises
    sleeps: list[float] = []
    points = make_source(fake.session(), sleeps).fetch_trailing_pe(["IWB"])
    assert [(p.series_id, p.value) for p in points] == [("pe:IWB", 24.31)]
    assert len(sleeps) == 1


def test_trailing_pe_persistent_rate_limit_is_reported(fake: FakeYahoo) -> None:
    fake.pe["IWB"] = 24.31
    fake.fail("summary:IWB", *[429] * 10)
    failures: dict[str, str] = {}
    source = make_source(fake.session(), [], retries=1)
    assert source.fetch_trailing_pe(["IWB"], failures=failures) == []
    assert failures == {"IWB": "rate limited by Yahoo (HTTP 429) (gave up after 2 attempts)"}


# -- contract tests against recorded Yahoo responses (../shared/data/yahoo_chart) -------------


def test_recorded_msft_dividends(fake: FakeYahoo, recorded: Path) -> None:
    fake.add_fixture(
        recorded / "historical-via-chart-MSFT-dividends-2021-02-01-to-2022-01-31.csv.json"
    )
    bars = make_source(fake.session(), []).fetch({"MSFT": date(2021, 2, 1)}).bars["MSFT"]
    assert len(bars) == 252
    first = by_date(bars)[date(2021, 2, 1)]
    assert (first.open, first.close, first.adj_close, first.volume) == (
        235.05999755859375,
        239.64999389648438,
        231.1864776611328,
        33314200.0,
    )
    assert all(bar.adj_close < bar.close for bar in bars)  # later dividends adjust every bar
    ratio = {bar.date: bar.adj_close / bar.close for bar in bars}
    for ex_date, before in [(date(2021, 11, 17), date(2021, 11, 16))]:
        # On the ex-date of the 0.62 dividend the adjustment factor steps up by ~0.62/close.
        step = ratio[ex_date] / ratio[before] - 1
        assert step == pytest.approx(0.62 / by_date(bars)[before].close, rel=0.01)


def test_recorded_nvda_split_close_is_split_adjusted_by_yahoo(
    fake: FakeYahoo, recorded: Path
) -> None:
    fake.add_fixture(recorded / "historical-via-chart-NVDA-split-2021-02-01-to-2022-01-31.csv.json")
    bars = by_date(make_source(fake.session(), []).fetch({"NVDA": date(2021, 7, 1)}).bars["NVDA"])
    before, after = bars[date(2021, 7, 19)], bars[date(2021, 7, 20)]  # 4:1 split on 2021-07-20
    # Stored exactly as served: Yahoo's chart `close` is already divided by every later split
    # (4:1 in 2021, 10:1 in 2024), so 751.19 as traded arrives as 751.19 / 40.
    assert before.close == 18.77975082397461 == pytest.approx(751.19 / 40, abs=1e-4)
    assert before.adj_close == 18.742971420288086 < before.close
    assert after.close / before.close == pytest.approx(0.991, abs=0.001)  # no 4x jump
    assert all(bar.adj_close <= bar.close for bar in bars.values())


def test_recorded_spy_2026_skips_the_holiday_and_marks_the_live_bar(
    fake: FakeYahoo, recorded: Path
) -> None:
    fake.add_fixture(recorded / "SPY_v8_chart_1d_2026-02-13_to_2026-02-20.json")
    midday = datetime(2026, 2, 20, 18, 0, tzinfo=UTC)
    bars = make_source(fake.session(), [], now=midday).fetch({"SPY": date(2026, 2, 13)}).bars
    spy = bars["SPY"]
    assert [bar.date.day for bar in spy] == [13, 17, 18, 19, 20]  # 16th: Presidents' Day
    assert [bar.final for bar in spy] == [True, True, True, True, False]
    assert (spy[-1].close, spy[-1].adj_close, spy[-1].volume) == (
        689.4299926757812,
        689.4299926757812,
        99952100.0,
    )


def test_a_repeated_timestamp_keeps_the_copy_consistent_with_its_neighbours(
    fake: FakeYahoo,
) -> None:
    body = load_chart(IWM)
    result = body["chart"]["result"][0]
    result["timestamp"].insert(2, result["timestamp"][2])  # 2026-11-18 twice, spike first
    for block in (result["indicators"]["quote"][0], result["indicators"]["adjclose"][0]):
        for key, values in block.items():
            values.insert(2, values[2] * 10 if key != "volume" else values[2])
    fake.add_chart(body)
    fetched = make_source(fake.session(), []).fetch({"IWM": date(2026, 11, 16)})
    bars = by_date(fetched.bars["IWM"])
    assert len(bars) == 5 and bars[date(2026, 11, 18)].close == pytest.approx(241.7)
    assert fetched.notes["IWM"] == ["2026-11-18: 2 copies sent; kept the one at 241.7"]

"""check_rules on real SQLite: priming, catch-up, persistence, dedupe, expected sessions."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from bot.service.evaluation import check_rules, expected_last_session, load_market
from signals.models import PriceBar, SeriesPoint
from signals.rules import parse_rule
from storage.prices import upsert_bars
from storage.rule_state import last_events, load_states
from storage.series import upsert_points

DAYS = [d.date() for d in pd.bdate_range("2025-03-03", periods=12)]
NOW = datetime(2025, 3, 18, 22, 0, tzinfo=UTC)  # after the close of 2025-03-18 (DAYS[11])


def store(db, closes: list[float], symbol: str = "X", final: bool = True, start: int = 0) -> None:
    bars = [
        PriceBar(symbol, DAYS[start + i], close=c, adj_close=c, final=final, source="test")
        for i, c in enumerate(closes)
    ]
    upsert_bars(db, bars)


HIGH = parse_rule(
    {"id": "hi", "type": "new_high", "symbol": "X", "min_history": 2, "hysteresis": 0}
)


def test_first_check_primes_silently_then_alerts_once(fresh_db) -> None:
    store(fresh_db, [1, 2, 3, 2, 1])  # history with new highs on days 1 and 2
    first = check_rules(fresh_db, [HIGH], now=NOW)
    assert first.primed == ("hi",) and first.new_events == ()
    assert load_states(fresh_db)["hi"].last_session == DAYS[4]
    store(fresh_db, [4], start=5)
    second = check_rules(fresh_db, [HIGH], now=NOW)
    assert [e.dedupe_key for e in second.new_events] == [f"hi:{DAYS[5]}:fired"]
    assert second.checks[0].last_event == second.new_events[0]
    assert check_rules(fresh_db, [HIGH], now=NOW).new_events == ()


def test_an_edited_rule_starts_afresh_but_a_renamed_one_does_not(fresh_db) -> None:
    store(fresh_db, [1, 2, 3])
    check_rules(fresh_db, [HIGH], now=NOW)
    renamed = parse_rule({**HIGH.to_mapping(), "name": "X record", "severity": "critical"})
    assert check_rules(fresh_db, [renamed], now=NOW).primed == ()
    edited = parse_rule({**HIGH.to_mapping(), "hysteresis": 1.0})
    assert check_rules(fresh_db, [edited], now=NOW).primed == ("hi",)
    assert check_rules(fresh_db, [edited], now=NOW).primed == ()


def test_missed_sessions_are_caught_up_in_order(fresh_db) -> None:
    store(fresh_db, [1, 2])
    assert [e.date for e in check_rules(fresh_db, [HIGH], now=NOW).new_events] == [DAYS[1]]
    store(fresh_db, [3, 1, 4, 1, 5], start=2)
    report = check_rules(fresh_db, [HIGH], now=NOW)
    # Day 2 extends the episode that fired on day 1; day 3 ends it; days 4 and 6 are new ones.
    assert [e.date for e in report.new_events] == [DAYS[4], DAYS[6]]
    assert [e.date for e in last_events(fresh_db, "hi")] == [DAYS[6], DAYS[4], DAYS[1]]


def test_status_and_staleness_come_from_the_nyse_calendar(fresh_db) -> None:
    store(fresh_db, [1, 2, 3])
    (check,) = check_rules(fresh_db, [HIGH], now=NOW).checks
    assert check.evaluation.status == "STALE"
    assert check.evaluation.reason == f"X: last final bar {DAYS[2]}, expected session {DAYS[11]}"


def test_as_of_without_persist_is_a_dry_run(fresh_db) -> None:
    store(fresh_db, [1, 2, 1, 3, 1])
    report = check_rules(fresh_db, [HIGH], as_of=DAYS[3], now=NOW, persist=False)
    (check,) = report.checks
    assert [e.date for e in check.evaluation.events] == [DAYS[3]]
    assert (check.evaluation.status, check.evaluation.session) == ("OK", DAYS[3])
    assert report.new_events == () and load_states(fresh_db) == {}
    assert last_events(fresh_db) == []


def test_orphan_reversal_of_a_primed_episode_is_not_announced(fresh_db) -> None:
    rule = parse_rule({"id": "hi", "type": "new_high", "symbol": "X", "min_history": 2,
                       "hysteresis": 0, "emit_reversed": True})  # fmt: skip
    store(fresh_db, [1, 2, 3])  # primed while firing on DAYS[2]
    check_rules(fresh_db, [rule], now=NOW)
    store(fresh_db, [2], start=3)
    assert check_rules(fresh_db, [rule], now=NOW).new_events == ()
    store(fresh_db, [4, 1], start=4)
    report = check_rules(fresh_db, [rule], now=NOW)
    assert [(e.kind, e.date) for e in report.new_events] == [
        ("fired", DAYS[4]),
        ("reversed", DAYS[5]),
    ]


def test_rule_without_data_waits_and_primes_when_data_arrives(fresh_db) -> None:
    rule = parse_rule({"id": "fed", "type": "rate_change", "series": "FED"})
    (check,) = check_rules(fresh_db, [rule], now=NOW).checks
    assert check.evaluation.status == "NO DATA" and load_states(fresh_db) == {}
    points = [
        SeriesPoint("FED", d, v) for d, v in zip(DAYS[:4], [4.5, 4.25, 4.25, 4.0], strict=True)
    ]
    upsert_points(fresh_db, points)
    report = check_rules(fresh_db, [rule], now=NOW)
    assert report.primed == ("fed",)
    assert [e.title for e in report.new_events] == [
        "FED cut by 25 bps to 4.00%"
    ]  # the last bar only


def test_load_market_reads_prices_and_series_the_rules_need(fresh_db) -> None:
    store(fresh_db, [1, 2])
    store(fresh_db, [7], symbol="OTHER")
    upsert_points(fresh_db, [SeriesPoint("FED", DAYS[0], 4.5)])
    rules = [HIGH, parse_rule({"id": "f", "type": "rate_change", "series": "FED"})]
    market = load_market(fresh_db, rules)
    assert set(market.prices) == {"X"} and set(market.series) == {"FED"}


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2025, 7, 3, 16, 59, tzinfo=UTC), date(2025, 7, 2)),  # early close 13:00 ET
        (datetime(2025, 7, 3, 17, 1, tzinfo=UTC), date(2025, 7, 3)),
        (datetime(2025, 7, 4, 23, 0, tzinfo=UTC), date(2025, 7, 3)),  # Independence Day
        (datetime(2025, 7, 7, 19, 0, tzinfo=UTC), date(2025, 7, 3)),  # Monday, before the close
        (datetime(2025, 7, 7, 20, 0, tzinfo=UTC), date(2025, 7, 7)),  # Monday 16:00 ET
    ],
)
def test_expected_last_session(now: datetime, expected: date) -> None:
    assert expected_last_session(now) == expected


@pytest.mark.parametrize(
    ("last", "now", "status"),
    [
        (date(2025, 7, 3), datetime(2025, 7, 4, 23, 0, tzinfo=UTC), "OK"),  # Independence Day
        (date(2025, 7, 3), datetime(2025, 7, 7, 19, 0, tzinfo=UTC), "OK"),  # Monday, still open
        (date(2025, 7, 3), datetime(2025, 7, 7, 20, 30, tzinfo=UTC), "STALE"),
        (date(2025, 7, 2), datetime(2025, 7, 3, 16, 59, tzinfo=UTC), "OK"),  # before 13:00 ET
        (date(2025, 7, 2), datetime(2025, 7, 3, 17, 1, tzinfo=UTC), "STALE"),  # early close
    ],
)
def test_staleness_follows_nyse_holidays_and_early_closes(
    fresh_db, last: date, now: datetime, status: str
) -> None:
    days = [d.date() for d in pd.bdate_range(end=last, periods=3)]
    upsert_bars(
        fresh_db, [PriceBar("X", d, close=1.0 + i, adj_close=1.0 + i) for i, d in enumerate(days)]
    )
    (check,) = check_rules(fresh_db, [HIGH], now=now, persist=False).checks
    assert check.evaluation.status == status, check.evaluation.reason
    if status == "STALE":
        assert check.evaluation.reason.startswith(f"X: last final bar {last}, expected session ")

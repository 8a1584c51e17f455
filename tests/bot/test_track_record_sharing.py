"""Rules differing only in their id and words share one computed track record (a first check
of many rules fires many such rules); each gets the record it would have alone."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.outcomes import TrackRecords, compute_record, shared_key, with_track_records
from signals.evaluate import backtest_rule
from signals.models import MarketData
from signals.outcome_text import outcome_line
from signals.rules import Rule, parse_rule
from tests.bot.test_track_record_alert import DAYS, sawtooth
from tests.signals.builders import frame

BASE = {"type": "new_high", "symbol": "X", "min_history": 2, "hysteresis": 0}
CLOSES = sawtooth(9)
MARKET = MarketData(prices={"X": frame(DAYS[: len(CLOSES)], CLOSES)})


def rule(rule_id: str, **changes: Any) -> Rule:
    return parse_rule({"id": rule_id, **BASE, **changes})


# Same measure and anti-flap options, other words: one record between them.
ALIKE = [
    rule("a"),
    rule("b", name="Another name", description="words", tags=["t"], severity="critical"),
    rule("c", destinations=["discord:123"], renotify_minutes=30, enabled=False),
]
# Each differs from "a" in something its record depends on.
UNLIKE = [
    rule("d", confirm=3),
    rule("e", cooldown=60),
    rule("f", hysteresis=5.0),
    rule("g", emit_reversed=True),
    rule("h", trigger="once"),
    rule("i", min_history=30),
    rule("j", symbol="Y"),
]


def test_each_rule_gets_the_record_it_has_alone() -> None:
    cache = TrackRecords()
    for each in [*ALIKE, *UNLIKE, *ALIKE]:
        alone = compute_record(each, MARKET)
        shared = cache.record(each, MARKET, version=1)
        assert shared == alone, each.id
        assert shared is None or shared.rule_id == each.id
        assert (shared and outcome_line(shared)) == (alone and outcome_line(alone))
    first = cache.record(ALIKE[0], MARKET, version=1)
    assert first is not None and len(first.fired) >= 5 and outcome_line(first)
    # The unlike rules' own records differ (so a key too coarse would have failed above).
    others = [compute_record(each, MARKET) for each in UNLIKE]
    differ = [other for other in others if other is None or other.fired != first.fired]
    assert len(differ) >= 5


def test_alike_rules_share_one_computation_and_unlike_ones_do_not() -> None:
    assert len({shared_key(each) for each in ALIKE}) == 1
    assert len({shared_key(each) for each in [ALIKE[0], *UNLIKE]}) == 1 + len(UNLIKE)
    cache = TrackRecords()
    records = [cache.record(each, MARKET, version=1) for each in ALIKE]
    assert all(record is not None for record in records)
    assert len({id(record.horizons) for record in records if record}) == 1  # computed once
    assert cache.record(ALIKE[1], MARKET, version=1) is records[1]


def test_a_new_data_version_or_date_computes_again() -> None:
    cache = TrackRecords()
    first = cache.record(ALIKE[0], MARKET, version=1)
    again = cache.record(ALIKE[1], MARKET, version=2)
    earlier = cache.record(ALIKE[2], MARKET, version=2, as_of=date(2023, 6, 1))
    assert first and again and earlier
    assert again.horizons is not first.horizons and again == compute_record(ALIKE[1], MARKET)
    assert earlier == compute_record(ALIKE[2], MARKET, as_of=date(2023, 6, 1))
    assert earlier.fired != again.fired


def test_alerts_carry_the_same_lines_as_computed_alone() -> None:
    events = [event for each in ALIKE for event in backtest_rule(each, MARKET)]
    shared = with_track_records(events, ALIKE, MARKET, version=1, cache=TrackRecords())
    alone = [
        with_track_records([event], ALIKE, MARKET, version=1, cache=TrackRecords())[0]
        for event in events
    ]
    assert shared == alone
    assert any("track_record" in event.context for event in shared)

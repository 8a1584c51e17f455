"""Issue 23: the track record's line, the reason it has none, and its table."""

from __future__ import annotations

from datetime import date

from signals.outcome_text import outcome_line, outcome_table, why_no_line
from signals.outcomes import Horizon, HorizonOutcome, Summary, Tracked, TrackRecord

SPREAD = Tracked("spread", ("IWM", "IWB"), "adj_close", "bps")


def record(count: int, independent: int | None = None, pending: int = 0) -> TrackRecord:
    firings = Summary(count, independent or count, 180.0, 8, 900.0, -400.0)
    base = Summary(6000, 100, 10.0, 3120, 2000.0, -1500.0)
    three = HorizonOutcome(Horizon("3M", 63), firings, base, (), pending, 0)
    one = HorizonOutcome(Horizon("1M", 21), firings, base, (), 0, 0)
    return TrackRecord("r", SPREAD, date(2000, 7, 27), date(2026, 7, 31), (), (one, three))


def test_the_alert_line_says_what_happened_never_what_will() -> None:
    assert outcome_line(record(12)) == (
        "Past 12 firings since 2000: IWM − IWB over the next 3 months +180 bps median, "
        "positive 8 of 12 (all sessions: +10 bps, 52 %)"
    )
    assert "(9 independent)" in (outcome_line(record(12, 9)) or "")
    for word in ("will", "expect", "forecast", "likely"):
        assert word not in (outcome_line(record(12)) or "").lower()


def test_fewer_than_five_firings_give_no_line_and_say_why() -> None:
    assert outcome_line(record(4)) is None
    assert why_no_line(record(4, pending=2)) == (
        "only 4 past firings since 2000-07-27 with the next 3 months in the data "
        "(2 too recent); the alert shows a track record from 5"
    )
    assert why_no_line(record(5)) is None


def test_the_table_has_a_row_per_horizon() -> None:
    lines = outcome_table(record(12)).splitlines()
    assert len(lines) == 3 and lines[0].split()[:3] == ["horizon", "firings", "indep."]
    assert lines[2].split()[:5] == ["3M", "12", "12", "+180", "bps"]
    assert lines[2].endswith("+10 bps, 52 %")

"""Alert words that do not mislead (issue 24): a small gain is not '+0.0%', a reversal does not
restate the firing condition, a rate's summary shows its last move, a spread rule's chart has
its threshold."""

from __future__ import annotations

from datetime import date

from signals.evaluate import backtest_rule, evaluate_rule
from signals.formatting import fmt_gain
from signals.models import RuleState
from signals.rules import parse_rule
from tests.signals.builders import frame, market, series, sessions

DAYS = sessions("2025-03-03", 8)


def test_a_small_gain_above_the_record_shows_points_and_enough_precision() -> None:
    rule = parse_rule({"id": "hi", "type": "new_high", "symbol": "X", "min_history": 2})
    data = market({"X": frame(DAYS[:3], [2466.87, 2400.0, 2467.70])})
    (event,) = backtest_rule(rule, data)
    assert dict(event.fields)["Above record"] == "+0.83 (+0.034%)"  # was "+0.0%"
    assert fmt_gain(110.0, 100.0) == "+10.00 (+10.0%)"
    assert fmt_gain(0.3651, 0.3633) == "+0.0018 (+0.50%)"


def test_a_reversal_says_the_condition_no_longer_holds() -> None:
    rule = parse_rule(
        {"id": "s", "type": "spread_threshold", "a": "A", "b": "B", "window": "2d",
         "threshold_bps": 400, "hysteresis": 0, "description": "A beats B by 400 bps"}
    )  # fmt: skip
    a = frame(DAYS, [100, 100, 100, 110, 110, 110, 100, 100])
    b = frame(DAYS, [100] * 8)
    fired, reversed_ = backtest_rule(rule, market({"A": a, "B": b}))
    assert (fired.kind, fired.description) == ("fired", "A beats B by 400 bps")
    assert reversed_.kind == "reversed"
    assert reversed_.description == "No longer true: A beats B by 400 bps"


def test_a_spread_rule_chart_carries_its_signed_threshold() -> None:
    spec = {"id": "s", "type": "spread_threshold", "a": "A", "b": "B", "window": "2d",
            "threshold_bps": 400, "hysteresis": 0}  # fmt: skip
    a = frame(DAYS, [100, 100, 100, 90, 90, 90, 90, 90])
    b = frame(DAYS, [100] * 8)
    down = parse_rule({**spec, "direction": "down"})
    event = backtest_rule(down, market({"A": a, "B": b}))[0]
    assert event.kind == "fired"
    assert event.chart is not None and event.chart.reference_value == -400.0
    crossover = parse_rule({"id": "c", "type": "relative_crossover", "a": "A", "b": "B",
                            "window": "2d", "direction": "down", "hysteresis": 0})  # fmt: skip
    event = backtest_rule(crossover, market({"A": a, "B": b}))[0]
    assert event.chart is not None and event.chart.reference_value is None


def test_a_rate_summary_shows_its_last_move_not_the_days_change() -> None:
    rule = parse_rule({"id": "fed", "type": "rate_change", "series": "DFEDTARU"})
    rates = series(DAYS, [4.75, 4.75, 4.50, 4.50, 4.50, 4.50, 4.50, 4.50], "DFEDTARU")
    evaluation = evaluate_rule(rule, market(DFEDTARU=rates), RuleState(), expected_session=DAYS[-1])
    assert evaluation.summary == f"DFEDTARU at 4.50% (last change -25 bps on {DAYS[2]})"
    flat = series(DAYS, [4.5] * 8, "DFEDTARU")
    evaluation = evaluate_rule(rule, market(DFEDTARU=flat), RuleState(), expected_session=DAYS[-1])
    assert evaluation.summary == "DFEDTARU at 4.50% (no change in the stored history)"
    assert date(2025, 3, 3) == DAYS[0]

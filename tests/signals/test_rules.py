"""Rule parsing: every type, its defaults, and every problem reported with its field."""

from __future__ import annotations

from datetime import date

import pytest

from signals.rule_fields import RuleError
from signals.rules import (
    RULE_TYPES,
    Curve,
    ExtremeSince,
    NewHigh,
    RallyFromLow,
    RateChange,
    RelativeCrossover,
    SpreadThreshold,
    parse_rule,
)

MINIMAL = {
    "relative_crossover": {"a": "IWC", "b": "OEF"},
    "new_high": {"symbol": "^RUT"},
    "extreme_since": {"series": "^RUT / ^GSPC", "years": 20},
    "spread_threshold": {"a": "IWM", "b": "IWB", "threshold_bps": 400},
    "rally_from_low": {"symbol": "IWC", "threshold_pct": 50},
    "rate_change": {"series": "DFEDTARU"},
    "curve": {"long": "DGS10", "short": "DGS3MO"},
}


def problems(mapping: dict) -> dict[str, str]:
    with pytest.raises(RuleError) as caught:
        parse_rule(mapping)
    return dict(caught.value.problems)


@pytest.mark.parametrize("kind", sorted(MINIMAL))
def test_every_type_parses_from_its_minimal_mapping(kind: str) -> None:
    rule = parse_rule({"id": f"r-{kind}", "type": kind, **MINIMAL[kind]})
    assert isinstance(rule, RULE_TYPES[kind])
    assert rule.enabled and rule.confirm == 1 and rule.trigger == "episode"
    assert parse_rule(rule.to_mapping()) == rule


def test_defaults_are_anti_flap_per_type() -> None:
    crossover = parse_rule({"id": "x", "type": "relative_crossover", "a": "A", "b": "B"})
    assert isinstance(crossover, RelativeCrossover)
    assert (crossover.window, crossover.basis, crossover.hysteresis) == ("ytd", "total", 1.0)
    high = parse_rule({"id": "h", "type": "new_high", "symbol": "^RUT"})
    assert isinstance(high, NewHigh)
    assert (high.lookback, high.basis, high.emit_reversed) == (None, "close", False)


def test_shared_options_are_validated() -> None:
    rule = parse_rule(
        {
            "id": "spread.1",
            "type": "spread_threshold",
            "a": "IWM",
            "b": "IWB",
            "threshold_bps": 400,
            "window": "42D",
            "confirm": 2,
            "hysteresis": 50,
            "cooldown": 5,
            "trigger": "once",
            "emit_reversed": False,
            "intraday": True,
            "renotify_minutes": 60,
            "severity": "critical",
            "tags": ["size"],
            "name": "Small beats large",
            "description": "why",
        }
    )
    assert isinstance(rule, SpreadThreshold)
    assert (rule.window, rule.cooldown, rule.trigger, rule.renotify_minutes) == (
        "42d",
        5,
        "once",
        60,
    )
    assert rule.tags == ("size",) and rule.title == "Small beats large"


def test_every_problem_is_listed_with_its_field() -> None:
    found = problems(
        {
            "id": "Bad Id",
            "type": "relative_crossover",
            "a": "IWC",
            "b": "IWC",
            "window": "7q",
            "confirm": 0,
            "hysteresis": -1,
            "trigger": "sometimes",
            "colour": "red",
        }
    )
    assert set(found) == {"id", "b", "window", "confirm", "hysteresis", "trigger", "colour"}
    assert "unknown window '7q'" in found["window"]
    assert "unknown field" in found["colour"]


def test_missing_required_fields_and_type() -> None:
    assert problems({"id": "x", "type": "spread_threshold"}) == {
        "a": "required",
        "b": "required",
        "threshold_bps": "required",
    }
    assert "missing" in problems({"id": "x"})["type"]
    assert "unknown rule type 'moon'" in problems({"id": "x", "type": "moon"})["type"]


def test_rule_error_message_names_the_rule() -> None:
    with pytest.raises(RuleError, match=r"rule x: confirm: must be a whole number"):
        parse_rule({"id": "x", "type": "new_high", "symbol": "A", "confirm": "2"})


def test_extreme_since_needs_exactly_one_of_since_or_years() -> None:
    base = {"id": "e", "type": "extreme_since", "series": "pe:IWB - pe:IWM"}
    assert "exactly one" in problems(base)["since"]
    assert "exactly one" in problems({**base, "since": "2008-01-01", "years": 5})["since"]
    rule = parse_rule({**base, "since": date(2008, 1, 1)})
    assert isinstance(rule, ExtremeSince) and rule.legs() == ("pe:IWB", "pe:IWM")


def test_series_expression_needs_spaces_around_operators() -> None:
    base = {"id": "e", "type": "extreme_since", "years": 2}
    assert "use spaces" in problems({**base, "series": "^RUT/^GSPC"})["series"]
    rule = parse_rule({**base, "series": " ^RUT   /  ^GSPC "})
    assert isinstance(rule, ExtremeSince) and rule.series == "^RUT / ^GSPC"


def test_curve_change_mode_needs_change_and_sessions() -> None:
    found = problems({"id": "c", "type": "curve", "long": "A", "short": "B", "mode": "change"})
    assert found == {
        "change_bps": "required when mode = 'change'",
        "sessions": "required when mode = 'change'",
    }
    curve = parse_rule(
        {"id": "c", "type": "curve", "long": "A", "short": "B", "mode": "change",
         "change_bps": 50, "sessions": 20}
    )  # fmt: skip
    assert isinstance(curve, Curve) and curve.sessions == 20


def test_numbers_reject_bools_and_ranges() -> None:
    found = problems(
        {"id": "r", "type": "rally_from_low", "symbol": "IWC", "threshold_pct": True, "lookback": 1}
    )
    assert "must be a number" in found["threshold_pct"]
    assert "between 2" in found["lookback"]
    rate = parse_rule({"id": "f", "type": "rate_change", "series": "DFEDTARU", "direction": "down"})
    assert isinstance(rate, RateChange) and rate.direction == "down"
    rally = parse_rule({"id": "r", "type": "rally_from_low", "symbol": "IWC", "threshold_pct": 50})
    assert isinstance(rally, RallyFromLow) and rally.lookback == 252

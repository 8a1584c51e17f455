"""Turn a state-machine transition into a full `Event`: title, fields and chart a desk reads.

Everything here reads only data on or before the event's bar, so a live event and the same
event found by a backtest are equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, Literal

import pandas as pd

from signals.formatting import (
    fmt_bps,
    fmt_bps_pair,
    fmt_gain,
    fmt_pct,
    fmt_pct_pair,
    fmt_pp,
    fmt_value,
    fmt_value_pair,
)
from signals.frames import RuleFrame, curve_expression
from signals.legs import is_monthly, split_expression
from signals.models import ChartSpec, Direction, Event
from signals.names import display_name
from signals.rules import (
    Curve,
    ExtremeSince,
    NewHigh,
    PairRule,
    RallyFromLow,
    RateChange,
    RelativeCrossover,
    Rule,
    SpreadThreshold,
)
from signals.state import Transition

Fields = list[tuple[str, str]]
Row = Mapping[str, Any]
_CHART_YEARS = 2


def build_event(
    rule: Rule, transition: Transition, built: RuleFrame, row: Mapping[str, Any] | None = None
) -> Event:
    """The Event for one transition of `rule`, from its frame row on the transition's bar."""
    if row is None:
        row = built.frame.loc[pd.Timestamp(transition.day)].to_dict()
    direction = _direction(rule, transition)
    title, fields, chart = _DESCRIBERS[type(rule)](rule, transition, built, row)
    threshold = None if pd.isna(row["threshold"]) else float(row["threshold"])
    return Event(
        rule_id=rule.id,
        kind=transition.kind,
        date=transition.day,
        episode=transition.episode,
        title=title,
        measure=float(row["measure"]),
        threshold=threshold,
        unit=rule.unit,
        direction=direction,
        symbols=tuple(leaf for leg in rule.legs() for leaf in split_expression(leg)),
        description=_description(rule, transition),
        fields=tuple(fields),
        context={
            "rule_type": rule.type,
            "rule_name": rule.title,
            "severity": rule.severity,
            "tags": list(rule.tags),
            "renotify_minutes": rule.renotify_minutes,
        },
        chart=chart,
    )


def _description(rule: Rule, transition: Transition) -> str:
    """The rule's sentence states the firing condition: a reversal says it no longer holds."""
    if transition.kind == "reversed" and rule.description:
        return f"No longer true: {rule.description}"
    return rule.description


def _direction(rule: Rule, transition: Transition) -> Direction:
    """The side that fired, in market terms; a reversal points the other way."""
    side = transition.side
    if getattr(rule, "direction", None) == "down" or (
        isinstance(rule, ExtremeSince) and rule.extreme == "low"
    ):
        side = "down"
    if transition.kind == "reversed":
        return "down" if side == "up" else "up"
    return side


def _chart_start(day: date) -> date:
    return day - timedelta(days=365 * _CHART_YEARS)


def _chart_basis(basis: str) -> Literal["adj_close", "close"]:
    """The column a rule with a return basis is drawn from (total return is adj_close)."""
    return "adj_close" if basis == "total" else "close"


def _describe_crossover(
    rule: PairRule, t: Transition, built: RuleFrame, row: Row
) -> tuple[str, Fields, ChartSpec]:
    window = rule.parsed_window
    a_start, b_start = row["a_start"].date(), row["b_start"].date()
    label = window.text.upper() if window.kind in ("ytd", "qtd", "mtd") else window.text
    returns = f"{fmt_pct(row['a'])} vs {fmt_pct(row['b'])}"
    if isinstance(rule, SpreadThreshold):
        title = _spread_title(rule, t, row, label)
        spread = ("Spread", fmt_bps(row["measure"]))
    else:
        title = f"{rule.a} {_cross_verb(rule, t)} {rule.b} {label}: {returns}"
        spread = ("Spread", fmt_pp(row["measure"]))
    fields = [
        (f"{rule.a} {label}", fmt_pct(row["a"])),
        (f"{rule.b} {label}", fmt_pct(row["b"])),
        spread,
        ("Window", f"{min(a_start, b_start)} → {t.day}"),
    ]
    chart = ChartSpec(
        "relative", (rule.a, rule.b), min(a_start, b_start), t.day,
        basis=_chart_basis(rule.basis),
        spread_unit="bps" if isinstance(rule, SpreadThreshold) else "pp",
        reference_value=_spread_threshold(rule),
    )  # fmt: skip
    return title, fields, chart


def _spread_threshold(rule: PairRule) -> float | None:
    """The spread a spread_threshold rule fires at, signed (bps), for the chart's line."""
    if not isinstance(rule, SpreadThreshold):
        return None
    return rule.threshold_bps if rule.direction == "up" else -rule.threshold_bps


def _cross_verb(rule: RelativeCrossover, t: Transition) -> str:
    up = _direction(rule, t) == "up"
    if t.kind == "reversed":
        return "loses its lead over" if not up else "climbs back above"
    return "overtakes" if up else "falls behind"


def _spread_title(rule: SpreadThreshold, t: Transition, row: Row, label: str) -> str:
    verb = "beats" if rule.direction == "up" else "trails"
    spread = fmt_bps(abs(row["measure"]), signed=False)
    if t.kind == "reversed":
        limit = fmt_bps(rule.threshold_bps, signed=False)
        return f"{rule.a} no longer {verb} {rule.b} by {limit} over {label}: {spread}"
    returns = f"{fmt_pct(row['a'])} vs {fmt_pct(row['b'])}"
    return f"{rule.a} {verb} {rule.b} by {spread} over {label}: {returns}"


def _describe_new_high(
    rule: NewHigh, t: Transition, built: RuleFrame, row: Row
) -> tuple[str, Fields, ChartSpec]:
    record_day = _record_day(rule, built, t.day, row)
    span = "all-time" if rule.lookback is None else f"{rule.lookback}-session"
    what = "trades at" if rule.basis == "high" else "closes at"
    level, record = fmt_value_pair(float(row["measure"]), float(row["threshold"]))
    title = f"{rule.symbol} {what} a new {span} high: {level}"
    if t.kind == "reversed":
        title = f"{rule.symbol} falls {fmt_pct(-row['x'], signed=False)} below its {span} high"
    fields = [
        ("Level", level),
        ("Previous record", f"{record} on {record_day}"),
        ("Above record", fmt_gain(float(row["measure"]), float(row["threshold"]))),
    ]
    chart = ChartSpec(
        "new_high", (rule.symbol,), min(record_day, _chart_start(t.day)), t.day,
        reference_date=record_day, reference_value=float(row["threshold"]), basis=rule.basis,
    )  # fmt: skip
    return title, fields, chart


def _record_day(rule: NewHigh, built: RuleFrame, day: date, row: Row) -> date:
    """The day of the record the new high beat (first day of that level)."""
    if rule.lookback is None:
        return row["record_day"].date()
    values = built.legs[rule.symbol]
    end = int(values.index.get_loc(pd.Timestamp(day)))
    window = values.to_numpy()[end - rule.lookback : end]
    return values.index[end - rule.lookback + int(window.argmax())].date()


def _describe_extreme(
    rule: ExtremeSince, t: Transition, built: RuleFrame, row: Row
) -> tuple[str, Fields, ChartSpec]:
    values = built.legs[rule.series]
    before = values[values.index < pd.Timestamp(t.day)]
    value = float(row["measure"])
    beyond = before <= value if rule.extreme == "low" else before >= value
    word = "lowest" if rule.extreme == "low" else "highest"
    last_day = before[beyond].index[-1].date() if beyond.any() else None
    since = f"since {last_day}" if last_day else "on record"
    prior_day = _prior_extreme_day(before, rule)
    shown, prior = fmt_value_pair(value, float(row["threshold"]))
    monthly = is_monthly(values)
    month = f" ({t.day:%B %Y} data)" if monthly else ""
    name = display_name(rule.series)  # the title only: keys and stored data keep the id
    title = f"{name} at its {word} {since}{month}: {shown}"
    if t.kind == "reversed":
        title = f"{name} moves {fmt_pct(-row['x'], signed=False)} off its {word} level"
    window = f"since {rule.since}" if rule.since else f"in {rule.years:g} years"
    fields = [
        ("Value", shown),
        (f"Prior {word} {window}", f"{prior} on {prior_day}"),
        ("Last this extreme", since.removeprefix("since ")),
    ]
    if t.kind == "fired":
        beyond = "Below the prior low" if rule.extreme == "low" else "Above the prior high"
        fields.insert(2, (beyond, f"{row['x']:.2f}%"))
    fields.extend(_data_fields(built, t.day, monthly))
    start = rule.since or (t.day - timedelta(days=round((rule.years or 0) * 365.25)))
    # Reach back to the last time it was this extreme, so the chart shows what the title says.
    start = min(start, last_day) if last_day else start
    start = rule.chart_from or start  # a rule that names its chart's start gets exactly that
    chart = ChartSpec(
        "extreme", (rule.series,), start, t.day, reference_date=prior_day,
        reference_value=float(row["threshold"]),
        basis=_chart_basis(rule.basis), since_line=rule.since if rule.chart_from else None,
    )  # fmt: skip
    return title, fields, chart


def _data_fields(built: RuleFrame, day: date, monthly: bool) -> Fields:
    """The month a monthly value is for, and what its series say of their data (vintage, lag)."""
    found = [("Data month", f"{day:%B %Y}")] if monthly else []
    return found + [("Data", note) for note in built.data_notes]


def _prior_extreme_day(before: pd.Series, rule: ExtremeSince) -> date | None:
    if rule.since is not None:
        window = before[before.index >= pd.Timestamp(rule.since)]
    else:
        span = pd.Timedelta(days=round((rule.years or 0) * 365.25))
        window = before[before.index >= before.index[-1] - span] if len(before) else before
    if window.empty:
        return None
    return (window.idxmin() if rule.extreme == "low" else window.idxmax()).date()


def _describe_rally(
    rule: RallyFromLow, t: Transition, built: RuleFrame, row: Row
) -> tuple[str, Fields, ChartSpec]:
    values = built.legs[rule.symbol]
    end = int(values.index.get_loc(pd.Timestamp(t.day))) + 1
    recent = values.iloc[max(0, end - rule.lookback) : end]
    low_day = recent.idxmin().date()
    gain, threshold = fmt_pct_pair(float(row["measure"]), rule.threshold_pct)
    span = f"{rule.lookback}-session low"
    low = f"{fmt_value(row['low'])} on {low_day}"
    title = f"{rule.symbol} up {gain.removeprefix('+')} from its {span} ({low})"
    if t.kind == "reversed":
        title = f"{rule.symbol} rally fades: {gain} from its {span}"
    fields = [
        ("Rally", gain),
        ("Threshold", threshold),
        ("Low", low),
        ("Close", fmt_value(float(recent.iloc[-1]))),
    ]
    chart = ChartSpec(
        "level", (rule.symbol,), min(low_day, _chart_start(t.day)), t.day,
        reference_date=low_day, reference_value=float(row["low"]),
        basis=_chart_basis(rule.basis),
    )  # fmt: skip
    return title, fields, chart


def _describe_rate(
    rule: RateChange, t: Transition, built: RuleFrame, row: Row
) -> tuple[str, Fields, ChartSpec]:
    change = float(row["measure"])
    verb = "cut" if change < 0 else "hiked"
    title = f"{rule.series} {verb} by {fmt_bps(abs(change), signed=False)} to {row['level']:.2f}%"
    if t.kind == "reversed":
        title = f"{rule.series} holds at {row['level']:.2f}%"
    fields = [
        ("Change", fmt_bps(change)),
        ("New level", f"{row['level']:.2f}%"),
        ("Previous level", f"{row['level'] - change / 100.0:.2f}%"),
    ]
    chart = ChartSpec(
        "level", (rule.series,), _chart_start(t.day), t.day,
        reference_date=t.day, reference_value=float(row["level"]),
    )  # fmt: skip
    return title, fields, chart


def _describe_curve(
    rule: Curve, t: Transition, built: RuleFrame, row: Row
) -> tuple[str, Fields, ChartSpec]:
    expression = curve_expression(rule)
    up = _direction(rule, t) == "up"
    level = fmt_bps(row["level"])
    if rule.mode == "level" and rule.level_bps == 0:
        title = f"{expression} {'un-inverts' if up else 'inverts'}: {level}"
    elif rule.mode == "level":
        where = "above" if up else "below"
        title = f"{expression} moves {where} {fmt_bps(rule.level_bps)}: {level}"
    else:
        verb = "steepens" if up else "flattens"
        moved = fmt_bps(abs(row["measure"]), signed=False)
        title = f"{expression} {verb} {moved} over {rule.sessions} sessions: {level}"
    spread, watched = fmt_bps_pair(row["level"], rule.level_bps)
    fields = [("Spread", spread), ("Level watched", watched)]
    if rule.mode == "change":
        fields = [
            ("Spread", level),
            (f"Change over {rule.sessions} sessions", fmt_bps(row["measure"])),
        ]
    chart = ChartSpec(
        "level", (expression,), _chart_start(t.day), t.day, reference_value=rule.level_bps / 100.0
    )
    return title, fields, chart


_DESCRIBERS = {
    RelativeCrossover: _describe_crossover,
    SpreadThreshold: _describe_crossover,
    NewHigh: _describe_new_high,
    ExtremeSince: _describe_extreme,
    RallyFromLow: _describe_rally,
    RateChange: _describe_rate,
    Curve: _describe_curve,
}


def _measures(built: RuleFrame) -> pd.Series:
    return pd.Series(built.column("measure"), index=built.index)


def _last_move(changes: pd.Series, at: int) -> str:
    """The last step of a rate up to bar `at` (the day's change is +0 bps on most days)."""
    seen = changes.iloc[: at + 1]
    moved = seen[seen.fillna(0) != 0]
    if moved.empty:
        return "no change in the stored history"
    return f"last change {fmt_bps(float(moved.iloc[-1]))} on {moved.index[-1].date()}"


class _Row:
    """One bar of a frame, read a column at a time (a check summarizes thousands of frames)."""

    def __init__(self, built: RuleFrame, at: int) -> None:
        self._built, self._at = built, at

    def __getitem__(self, name: str) -> Any:
        return self._built.value(name, self._at)


def summarize(rule: Rule, built: RuleFrame, session: date) -> str:
    """One line on where the rule's measure stands on `session`, for `check`."""
    at = built.position(session)
    row = _Row(built, at)  # no mixed-type row Series; only the columns read are read
    if isinstance(rule, PairRule):
        label = rule.parsed_window.text
        spread = fmt_pp(row["measure"]) if rule.unit == "pp" else fmt_bps(row["measure"])
        return f"{rule.a} {fmt_pct(row['a'])} vs {rule.b} {fmt_pct(row['b'])} {label} ({spread})"
    if isinstance(rule, NewHigh):
        record = fmt_value(row["threshold"])
        return f"{rule.symbol} {fmt_value(row['measure'])}, {fmt_pct(row['x'])} vs record {record}"
    if isinstance(rule, ExtremeSince):
        word = "low" if rule.extreme == "low" else "high"
        prior = fmt_value(row["threshold"])
        return f"{rule.series} {fmt_value(row['measure'])} vs prior {word} {prior}"
    if isinstance(rule, RallyFromLow):
        return f"{rule.symbol} {fmt_pct(row['measure'])} from its {rule.lookback}-session low"
    if isinstance(rule, RateChange):
        return f"{rule.series} at {row['level']:.2f}% ({_last_move(_measures(built), at)})"
    assert isinstance(rule, Curve)
    return f"{curve_expression(rule)} at {fmt_bps(row['level'])}"

"""Each rule's measure over its whole history, vectorised: the input of the state machine.

`rule_frame` returns, per bar, `measure` and `threshold` (what a desk reads, in the rule's
unit), `x` (the signed distance from firing that `signals.state.step` consumes, in the same
unit as the rule's hysteresis; NaN where history is too thin) and `final`. Every value at a
date depends only on data up to that date, so the backtest can compute the frame once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from signals.batch import frame_key
from signals.holes import Hole, find_holes, mark_holes, window_reach
from signals.legs import load_leg, split_expression
from signals.measures import (
    Window,
    basis_column,
    is_period_to_date,
    spread_arrays,
    window_spans,
)
from signals.memo import Memo, per_series, scoped, shared
from signals.models import MarketData
from signals.rule_frame import RuleFrame
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

# A "since 2008" rule accepts history starting a few days after the date (weekends, holidays).
COVERAGE_SLACK = timedelta(days=7)
# Float noise must not decide an exact threshold ((4.10 - 3.85) * 100 = 24.99999999999996):
# measures compared with a threshold are rounded to 1e-9 of their unit (bps, pp, %).
DECIMALS = 9


def rule_frame(rule: Rule, market: MarketData, as_of: date | None = None) -> RuleFrame:
    """The measure frame of `rule` on data up to `as_of` (all data when None).

    The last frame built is kept (one per market and date checked): the next rule with the
    same `frame_key` gets it back (`signals.batch.in_frame_order` puts those together).
    """
    memo, key = scoped(market, as_of), frame_key(rule)
    last = memo.get(_LAST_FRAME)
    if isinstance(last, tuple) and last[0] == key:
        return last[1]  # type: ignore[no-any-return]
    built = _build_frame(rule, market, as_of)
    memo[_LAST_FRAME] = (key, built)
    return built


# Where `rule_frame` keeps its last frame in the memo: one at a time, whatever the rule count.
_LAST_FRAME = ("last frame",)


def _build_frame(rule: Rule, market: MarketData, as_of: date | None) -> RuleFrame:
    builder = _BUILDERS[type(rule)]
    legs = {
        name: shared_leg(market, name, column, not rule.intraday, pos, as_of)
        for name, column, pos in leg_specs(rule)
    }
    # Pair rules share each leg's window returns with every rule on the same leg and window,
    # extremes over N years their rolling extremes.
    memo = scoped(market, as_of)
    memo[("calendar",)] = market.sessions  # windows are measured between the same sessions
    shares = isinstance(rule, PairRule | ExtremeSince)
    result = builder(rule, legs, memo) if shares else builder(rule, legs)
    columns, index = result.frame
    columns = {**columns, "final": _final_flags(index, rule, market)}
    holes = _leg_holes(rule, market, legs, as_of)
    notes = _data_notes(rule, market)
    if not holes:
        return RuleFrame(columns, index, legs, result.note, data_notes=notes)
    plain = RuleFrame(columns, index)
    reach = window_reach(rule, index, plain.column)
    x, hole, after_hole = mark_holes(plain.column("x"), index, reach, holes)
    columns = {**columns, "x": x, "hole": hole, "after_hole": after_hole}
    return RuleFrame(columns, index, legs, result.note, tuple(holes), reach, notes)


def _data_notes(rule: Rule, market: MarketData) -> tuple[str, ...]:
    """The notes of the stored series the rule reads, each once."""
    leaves = [leaf for leg in rule.legs() for leaf in split_expression(leg)]
    notes = [market.series_notes[leaf] for leaf in leaves if leaf in market.series_notes]
    return tuple(dict.fromkeys(notes))


def shared_leg(
    market: MarketData,
    name: str,
    column: str,
    final_only: bool,
    positive: bool,
    as_of: date | None,
) -> pd.Series:
    """`load_leg` cut at `as_of`, loaded once per market for every rule that reads it."""
    key = ("leg", name, column, final_only, positive, as_of)
    return shared(
        scoped(market, as_of),
        key,
        lambda: _cut(
            load_leg(market, name, column, final_only=final_only, positive=positive), as_of
        ),
    )


def _leg_holes(
    rule: Rule, market: MarketData, legs: dict[str, pd.Series], as_of: date | None
) -> list[Hole]:
    """Holes in the price leaves the rule reads (none when the caller gave no sessions).

    Each leg is checked as loaded (`A / B` has the dates both leaves have); only a leg with
    a hole is split into its leaves, to name the one missing the sessions.
    """
    if market.sessions is None:
        return []
    holes: list[Hole] = []
    memo, sessions = scoped(market, as_of), market.sessions
    specs = {name: (column, positive) for name, column, positive in leg_specs(rule)}
    for name, values in legs.items():
        leaves = split_expression(name)
        priced = [leaf for leaf in leaves if leaf in market.prices]
        found = _shared_holes(memo, sessions, values, name) if priced else []
        if len(leaves) == 1 or not found:
            holes.extend(found)  # stored series (FRED, P/E) keep their own calendars
            continue
        column, positive = specs[name]
        for leaf in priced:
            loaded = shared_leg(market, leaf, column, not rule.intraday, positive, as_of)
            holes.extend(_shared_holes(memo, sessions, loaded, leaf))
    return holes


def _shared_holes(
    memo: Memo, sessions: pd.DatetimeIndex, values: pd.Series, name: str
) -> list[Hole]:
    """The holes of one loaded leg, found once per market (a copy: callers extend lists)."""
    found = per_series(
        memo,
        values,
        ("holes", name),
        lambda: tuple(find_holes(pd.DatetimeIndex(values.index), sessions, name)),
    )
    return list(found)


def _cut(values: pd.Series, as_of: date | None) -> pd.Series:
    return values if as_of is None else values[values.index <= pd.Timestamp(as_of)]


def leg_specs(rule: Rule) -> list[tuple[str, str, bool]]:
    """(name, column, drop non-positive) for every series the rule's builder reads."""
    if isinstance(rule, PairRule):
        column = basis_column(rule.basis)
        return [(rule.a, column, True), (rule.b, column, True)]
    if isinstance(rule, NewHigh):
        return [(rule.symbol, rule.basis, True)]
    if isinstance(rule, RallyFromLow):
        return [(rule.symbol, basis_column(rule.basis), True)]
    if isinstance(rule, ExtremeSince):
        return [(rule.series, basis_column(rule.basis), True)]
    if isinstance(rule, RateChange):
        return [(rule.series, "adj_close", False)]
    assert isinstance(rule, Curve)
    return [(curve_expression(rule), "adj_close", False)]


def curve_expression(rule: Curve) -> str:
    """The difference the curve rule watches, e.g. `DGS10 - DGS3MO`."""
    return f"{rule.long} - {rule.short}"


def _final_flags(index: pd.Index, rule: Rule, market: MarketData) -> np.ndarray:
    final = np.ones(len(index), dtype=bool)  # an array, not a Series: once per rule per check
    if rule.intraday:
        for name in rule.legs():
            bars = market.prices.get(name)
            if bars is not None and "final" in bars:
                provisional = bars.index[~bars["final"].astype(bool)]
                final &= ~index.isin(provisional)
    return final


# A frame's columns before `final` is added, and its index: one DataFrame built per frame.
_Columns = tuple[dict[str, object], pd.Index]


def _frame(
    measure: pd.Series | np.ndarray,
    threshold: pd.Series | np.ndarray | float,
    x: pd.Series | np.ndarray,
    index: pd.Index | None = None,
    **extra: pd.Series | np.ndarray,
) -> _Columns:
    """The columns on the measure's dates (`index` when the measure is an array)."""
    data = {"measure": measure, "threshold": threshold, "x": x.round(DECIMALS), **extra}
    index = measure.index if isinstance(measure, pd.Series) else index
    assert index is not None
    # Columns on the measure's own index need no aligning: their arrays are enough.
    return {k: _array_on(v, index) for k, v in data.items()}, index


def _array_on(values: object, index: pd.Index) -> object:
    # An equal index aligns to itself: the Series' own values are the column pandas makes.
    if isinstance(values, pd.Series) and (values.index is index or values.index.equals(index)):
        return values.to_numpy()
    return values


@dataclass(frozen=True)
class _Built:
    frame: _Columns
    note: str | None = None


def _signed(measure: pd.Series, level: float, direction: str) -> pd.Series:
    return level - measure if direction == "down" else measure - level


def _crossover(
    rule: RelativeCrossover, legs: dict[str, pd.Series], memo: Memo | None = None
) -> _Built:
    pair = _pair_measure(rule, legs, memo)
    measure = pair.spread * 100.0
    x = _long_enough(rule, pair.span, _signed(measure, rule.level, rule.direction))
    return _Built(_frame(measure, rule.level, x, pair.index, **pair.extra), pair.note)


@dataclass(frozen=True)
class _PairMeasure:
    """What every crossover and spread rule on one pair, window and basis reads (arrays on
    `index`: each rule's frame is a few array operations on them)."""

    index: pd.Index  # the dates both legs have a window return on
    spread: np.ndarray  # A's window return minus B's (fractions)
    span: np.ndarray  # sessions the window spans per date
    extra: dict[str, np.ndarray]  # each leg's return in % and anchor dates
    note: str | None


# Where the last pair measure is kept in the memo (rules on one pair come in a row).
_LAST_PAIR = ("last pair",)


def _pair_measure(rule: PairRule, legs: dict[str, pd.Series], memo: Memo | None) -> _PairMeasure:
    """`_pair_returns` and the columns built from it, once per pair, window and basis in a row."""
    key = (rule.a, rule.b, rule.window, rule.basis, id(legs[rule.a]), id(legs[rule.b]))
    last = None if memo is None else memo.get(_LAST_PAIR)
    if isinstance(last, tuple) and last[0] == key:
        return last[1]  # type: ignore[no-any-return]
    both, index, note = _pair_returns(rule, legs, memo)
    found = _PairMeasure(index, both["spread"], both["span"], _legs_extra(both), note)
    if memo is not None:
        # The legs are kept alive with the entry, so their ids in the key are never reused.
        memo[_LAST_PAIR] = (key, found, legs[rule.a], legs[rule.b])
    return found


def _pair_returns(
    rule: PairRule, legs: dict[str, pd.Series], memo: Memo | None = None
) -> tuple[dict[str, np.ndarray], pd.Index, str | None]:
    """Both legs' window returns per common date, and why there are none (for NO DATA)."""
    window = rule.parsed_window
    sessions = _calendar(memo)
    both, index, at = spread_arrays(legs[rule.a], legs[rule.b], window, memo, sessions)
    names = (rule.a, rule.b)
    spans = [_spans(legs[name], window, memo, on) for name, on in zip(names, at, strict=True)]
    both["span"] = np.minimum(spans[0], spans[1])
    return both, index, _window_note(legs, rule) if not len(index) else None


def _spans(
    values: pd.Series, window: Window, memo: Memo | None, positions: np.ndarray
) -> np.ndarray:
    """The sessions the window spans on the dates of `values` at `positions`."""
    sessions = _calendar(memo)
    spans = per_series(
        memo, values, ("spans", window), lambda: window_spans(values, window, sessions)
    )
    return spans.to_numpy()[positions]


def _calendar(memo: Memo | None) -> pd.DatetimeIndex | None:
    """The exchange's sessions `rule_frame` put in the memo (None: windows count bars)."""
    found = None if memo is None else memo.get(("calendar",))
    return found if isinstance(found, pd.DatetimeIndex) else None


def _long_enough(rule: PairRule, span: np.ndarray, x: np.ndarray) -> np.ndarray:
    """`x`, blanked (NaN) where a ytd/qtd/mtd window spans fewer than `min_sessions` sessions."""
    if not is_period_to_date(rule.parsed_window):
        return x
    return np.where(span >= rule.min_sessions, x, np.nan)


def waiting_reason(rule: Rule, built: RuleFrame) -> str | None:
    """Why the rule's last bar may not fire yet: its period-to-date window is still too short."""
    if not isinstance(rule, PairRule) or not built.has("span") or not len(built.index):
        return None
    span = int(built.column("span")[-1])
    if not is_period_to_date(rule.parsed_window) or span >= rule.min_sessions:
        return None
    return (
        f"waiting: the {rule.window} window spans {span} of the {rule.min_sessions} sessions "
        f"it needs before it may fire (min_sessions)"
    )


def _window_note(legs: dict[str, pd.Series], rule: PairRule) -> str:
    """How much history two legs have when no date has both window returns."""
    parts = []
    for name in (rule.a, rule.b):
        values = legs[name]
        since = f" from {values.index[0].date()}" if len(values) else ""
        parts.append(f"{name}: {len(values)} bars{since}")
    return f"{'; '.join(parts)}; not enough for window {rule.window} on common dates"


def _legs_extra(both: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each leg's return in % and the anchor dates, for titles and fields."""
    return {
        "a": both["a"] * 100.0,
        "b": both["b"] * 100.0,
        "a_start": both["a_start"],
        "b_start": both["b_start"],
        "span": both["span"],
    }


def _spread_threshold(
    rule: SpreadThreshold, legs: dict[str, pd.Series], memo: Memo | None = None
) -> _Built:
    pair = _pair_measure(rule, legs, memo)
    measure = pair.spread * 10_000.0
    sign = -1.0 if rule.direction == "down" else 1.0
    x = _long_enough(rule, pair.span, sign * measure - rule.threshold_bps)
    threshold = sign * rule.threshold_bps
    return _Built(_frame(measure, threshold, x, pair.index, **pair.extra), pair.note)


def _new_high(rule: NewHigh, legs: dict[str, pd.Series]) -> _Built:
    values = legs[rule.symbol]
    previous = values.shift(1)
    if rule.lookback is None:
        prior = previous.cummax()
    else:
        prior = previous.rolling(rule.lookback, min_periods=rule.lookback).max()
    x = (values / prior - 1.0) * 100.0
    x[np.arange(len(values)) < rule.min_history - 1] = np.nan
    # An N-session high compares with the N bars before, so it needs N + 1 bars.
    needed = max(rule.min_history, (rule.lookback or 0) + 1)
    note = _count_note(values, needed, "bars")
    extra = {"record_day": _record_days(values)} if rule.lookback is None else {}
    return _Built(_frame(values, prior, x, **extra), note)


def _record_days(values: pd.Series) -> pd.Series:
    """Per date, the day of the previous all-time record (its first occurrence), or NaT."""
    data = values.to_numpy(dtype=np.float64)
    if len(data) == 0:
        return pd.Series(pd.NaT, index=values.index)
    running = np.maximum.accumulate(data)
    earlier = np.concatenate(([-np.inf], running[:-1]))
    setting = np.where(data > earlier, np.arange(len(data)), -1)
    last_setter = np.maximum.accumulate(setting)
    before = np.concatenate(([-1], last_setter[:-1]))
    index = values.index.values
    days = np.where(before >= 0, index[np.maximum(before, 0)], np.datetime64("NaT"))
    return pd.Series(days, index=values.index)


def _count_note(values: pd.Series, needed: int, what: str) -> str | None:
    if len(values) >= needed:
        return None
    since = f" from {values.index[0].date()}" if len(values) else ""
    return f"{values.name}: {len(values)} {what}{since}; needs at least {needed}"


def _extreme(rule: ExtremeSince, legs: dict[str, pd.Series], memo: Memo | None = None) -> _Built:
    values = legs[rule.series]
    if rule.since is not None:
        prior, covered, note = _since_prior(values, rule)
    else:
        prior, covered, note = _years_prior(values, rule, memo)
    sign = 1.0 if rule.extreme == "high" else -1.0
    scale = np.abs(prior)
    scale[scale == 0.0] = np.nan
    x = np.where(covered, sign * (values.to_numpy() - prior) / scale * 100.0, np.nan)
    return _Built(_frame(values, prior, x), note)


def _since_prior(
    values: pd.Series, rule: ExtremeSince
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """The extreme before each bar since `rule.since` (NaN until there is one), as
    `values.where(after since).shift(1).cummax()` (or cummin) gives it."""
    assert rule.since is not None
    start = pd.Timestamp(rule.since)
    after = values.index >= start
    masked = np.concatenate(([np.nan], np.where(after, values.to_numpy(), np.nan)[:-1]))
    running = np.fmax if rule.extreme == "high" else np.fmin
    prior = running.accumulate(masked) if len(masked) else masked
    prior[np.isnan(masked)] = np.nan  # pandas' running extremes keep NaN where a value is NaN
    prior = prior[: len(values)]
    first = values.index[0] if len(values) else None
    ok = first is not None and first <= start + COVERAGE_SLACK
    covered = np.asarray(values.index > start) & ok
    note = None if ok else _history_note(values, rule.since)
    return prior, covered, note


def _years_prior(
    values: pd.Series, rule: ExtremeSince, memo: Memo | None
) -> tuple[np.ndarray, np.ndarray, str | None]:
    assert rule.years is not None
    span = pd.Timedelta(days=round(rule.years * 365.25))
    prior = per_series(
        memo, values, ("prior", span, rule.extreme), lambda: _rolling_extreme(values, span, rule)
    )
    if len(values) == 0:
        return prior, np.zeros(0, dtype=bool), _history_note(values, None)
    starts = values.index - span + COVERAGE_SLACK
    covered = np.asarray(starts >= values.index[0])
    note = None
    if not covered.any():
        note = _history_note(values, (values.index[-1] - span).date())
    return prior, covered, note


def _rolling_extreme(values: pd.Series, span: pd.Timedelta, rule: ExtremeSince) -> np.ndarray:
    rolling = values.rolling(span, closed="left")
    prior = rolling.max() if rule.extreme == "high" else rolling.min()
    return prior.to_numpy(dtype=np.float64)


def _history_note(values: pd.Series, needed: date | None) -> str:
    if len(values) == 0:
        return f"{values.name}: no data"
    first = values.index[0].date()
    return f"{values.name}: {len(values)} values from {first}; needs history from {needed}"


def _rally(rule: RallyFromLow, legs: dict[str, pd.Series]) -> _Built:
    values = legs[rule.symbol]
    low = values.rolling(rule.lookback, min_periods=rule.lookback).min()
    measure = (values / low - 1.0) * 100.0
    x = measure - rule.threshold_pct
    note = _count_note(values, rule.lookback, "bars")
    return _Built(_frame(measure, rule.threshold_pct, x, low=low), note)


def _rate_change(rule: RateChange, legs: dict[str, pd.Series]) -> _Built:
    values = legs[rule.series]
    change = (values.diff() * 100.0).round(DECIMALS)
    stepped = change.where(change.abs() >= rule.min_change_bps, 0.0).where(change.notna())
    x = -stepped if rule.direction == "down" else stepped
    threshold = -rule.min_change_bps if rule.direction == "down" else rule.min_change_bps
    note = _count_note(values, 2, "values")
    return _Built(_frame(change, threshold, x, level=values), note)


def _curve(rule: Curve, legs: dict[str, pd.Series]) -> _Built:
    spread_bps = legs[curve_expression(rule)] * 100.0
    if rule.mode == "level":
        x = _signed(spread_bps, rule.level_bps, rule.direction)
        return _Built(_frame(spread_bps, rule.level_bps, x, level=spread_bps))
    assert rule.change_bps is not None and rule.sessions is not None
    change = spread_bps - spread_bps.shift(rule.sessions)
    if rule.direction == "either":
        x = np.sign(change) * (change.abs() - rule.change_bps).clip(lower=0.0)
    else:
        x = _signed(change, 0.0, rule.direction) - rule.change_bps
    threshold = -rule.change_bps if rule.direction == "down" else rule.change_bps
    note = _count_note(spread_bps, rule.sessions + 1, "values")
    return _Built(_frame(change, threshold, x, level=spread_bps), note)


_BUILDERS: dict[type[Rule], Callable[..., _Built]] = {
    RelativeCrossover: _crossover,
    SpreadThreshold: _spread_threshold,
    NewHigh: _new_high,
    ExtremeSince: _extreme,
    RallyFromLow: _rally,
    RateChange: _rate_change,
    Curve: _curve,
}

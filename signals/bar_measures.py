"""What a rule's quiet new bars measure, from aggregates its legs share (`signals.bar_step`).

One builder per kind (`KINDS`): given the rule's cleaned legs, the check's memo and the
state's last session, it gives the measure, threshold and `x` at the bars after that
session (or at the last bar when none is), and the summary of the last one, with the
frame's formulas (`signals.frames`, `signals.describe.summarize`) operation for operation.
What rules on the same leg read (window returns and spans, the running record, a rate's
changes) is computed once per check in the memo; the extremes since a date or over N
years from the bars before the first new bar. None: the frame decides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from signals.formatting import fmt_bps, fmt_pct, fmt_pp, fmt_value
from signals.frames import COVERAGE_SLACK, DECIMALS, curve_expression
from signals.measures import anchor_targets, is_period_to_date
from signals.memo import Memo, per_series, shared
from signals.models import MarketData
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
from signals.windows import Window

# More new bars than this (a catch-up of weeks) are left to the frames: the aggregates below
# are read bar by bar.
MAX_NEW_BARS = 64


@dataclass(frozen=True)
class NewBars:
    """A rule's measure at its bars after the state's last session (the last one summarised)."""

    stamps: np.ndarray  # datetime64 of each new bar
    xs: np.ndarray  # the signed distance from firing, rounded as the frame rounds it
    measure: float
    threshold: float | None
    summary: str


def _from_new(values: pd.Series, last: np.datetime64) -> np.ndarray:
    """The positions of the bars after the state's last session, or of the last bar when
    none is (the evaluation then says where the measure stood, and steps nothing)."""
    if not len(values):
        return np.arange(0)
    return np.arange(min(_after(values, last), len(values) - 1), len(values))


def _after(values: pd.Series, last: np.datetime64) -> int:
    """The position of the first bar after the state's last session."""
    return int(values.index.values.searchsorted(last, side="right"))


def _rounded(xs: np.ndarray) -> np.ndarray:
    return np.round(xs, DECIMALS)


# --- pair rules: window returns per leg, shared by every pair reading it ------------------


def _pair(
    rule: PairRule, legs: dict[str, pd.Series], memo: Memo, market: MarketData, last: np.datetime64
) -> NewBars | None:
    found = pair_measure(rule, legs, memo, market, last)
    return None if found is None else _pair_bars(rule, *found)


def pair_measure(
    rule: PairRule, legs: dict[str, pd.Series], memo: Memo, market: MarketData, last: np.datetime64
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float] | None:
    """What every rule on one pair, window and basis reads at the new bars (once per check)."""
    key = ("bar pair", rule.a, rule.b, rule.window, rule.basis, last)
    return shared(memo, key, lambda: _pair_new_bars(rule, legs, memo, market, last))


def _pair_new_bars(
    rule: PairRule, legs: dict[str, pd.Series], memo: Memo, market: MarketData, last: np.datetime64
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float] | None:
    """What every rule on one pair, window and basis reads at the new bars: their dates,
    the spread (fractions), the sessions spanned, and each leg's last return in %.

    Each leg's return and span are computed at the new bars only (`_returns_at`), not over
    its whole history: the same operations on the same elements, so the same bits."""
    window, sessions = rule.parsed_window, market.sessions
    a, b = legs[rule.a], legs[rule.b]
    new_a = np.arange(_after(a, last), len(a))
    days = a.index.values[new_a]
    at_b = b.index.values.searchsorted(days)
    inside = at_b < len(b)
    new_a, days, at_b = new_a[inside], days[inside], at_b[inside]
    common = b.index.values[at_b] == days
    new_a, days, at_b = new_a[common], days[common], at_b[common]
    if not len(days):
        return None
    left, span_a = _leg_at(memo, a, window, sessions, new_a)
    right, span_b = _leg_at(memo, b, window, sessions, at_b)
    if np.isnan(left).any() or np.isnan(right).any():
        return None  # a bar the spread leaves out: the frame decides
    return days, left - right, np.minimum(span_a, span_b), left[-1] * 100.0, right[-1] * 100.0


def _leg_at(
    memo: Memo, values: pd.Series, window: Window, sessions: pd.DatetimeIndex | None, at: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`_returns_at`, once per leg, window and positions: every pair on the leg shares it (a
    window's anchors cost pandas' fixed overhead per call, however few the positions)."""
    tag = ("returns at", window, at.tobytes())
    return per_series(memo, values, tag, lambda: _returns_at(values, window, sessions, at))


def _returns_at(
    values: pd.Series, window: Window, sessions: pd.DatetimeIndex | None, at: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`signals.measures.return_series` and `window_spans` of a leg at positions `at` only."""
    index = pd.DatetimeIndex(values.index)
    anchors = _anchors_at(index, window, sessions, at)
    data = values.to_numpy(dtype="float64")
    start = np.where(anchors >= 0, data[np.maximum(anchors, 0)], np.nan)
    if window.kind == "since":
        start = np.where(index.values[at] >= np.datetime64(window.since, "ns"), start, np.nan)
    spans = at - anchors
    if sessions is not None and len(sessions) and len(index):
        known, days = sessions.values, index.values.astype(sessions.values.dtype)
        ends = known.searchsorted(days[at])
        starts = known.searchsorted(days[np.maximum(anchors, 0)])
        on_calendar = known[np.minimum(ends, len(known) - 1)] == days[at]
        spans = np.where(
            on_calendar & (days[np.maximum(anchors, 0)] >= known[0]), ends - starts, spans
        )
    return data[at] / start - 1.0, np.where(anchors >= 0, spans, 0)


def _anchors_at(
    index: pd.DatetimeIndex, window: Window, sessions: pd.DatetimeIndex | None, at: np.ndarray
) -> np.ndarray:
    """`signals.measures.anchor_positions(index, window, sessions)[at]`, element by element."""
    if window.kind == "sessions":
        positions = at - window.count
        if sessions is not None and len(sessions):
            known = sessions.values
            days = index.values.astype(known.dtype)
            found = known.searchsorted(days[at])
            on_calendar = known[np.minimum(found, len(known) - 1)] == days[at]
            target_at = found - window.count
            usable = on_calendar & (target_at >= 0)
            targets = known[np.maximum(target_at, 0)]
            anchors = days.searchsorted(targets, side="right") - 1
            positions = np.where(usable, anchors, positions)
        return np.where(positions >= 0, positions, -1)
    targets, side = anchor_targets(index[at], window)
    positions = index.values.searchsorted(targets, side=side) - 1  # type: ignore[call-overload]
    return np.where(positions >= 0, positions, -1)


def _pair_bars(
    rule: PairRule, days: np.ndarray, spread: np.ndarray, span: np.ndarray, a: float, b: float
) -> NewBars | None:
    if isinstance(rule, RelativeCrossover):
        measure = spread * 100.0
        threshold = float(rule.level)
        x = rule.level - measure if rule.direction == "down" else measure - rule.level
    else:
        measure = spread * 10_000.0
        sign = -1.0 if rule.direction == "down" else 1.0
        threshold = sign * rule.threshold_bps
        x = sign * measure - rule.threshold_bps
    if is_period_to_date(rule.parsed_window):
        if span[-1] < rule.min_sessions:
            return None  # waiting: the frame says so
        x = np.where(span >= rule.min_sessions, x, np.nan)
    last = float(measure[-1])
    said = fmt_pp(last) if rule.unit == "pp" else fmt_bps(last)
    label = rule.parsed_window.text
    summary = f"{rule.a} {fmt_pct(a)} vs {rule.b} {fmt_pct(b)} {label} ({said})"
    return NewBars(days, _rounded(x), last, threshold, summary)


# --- one-leg rules: the leg's aggregate before each new bar, shared by its rules ----------


def _new_high(
    rule: NewHigh, legs: dict[str, pd.Series], memo: Memo, market: MarketData, last: np.datetime64
) -> NewBars | None:
    values = legs[rule.symbol]
    data = values.to_numpy(dtype=np.float64)
    at = _from_new(values, last)
    if not len(at) or at[0] < 1:
        return None
    if rule.lookback is None:  # the running record before each bar, once per leg
        record = per_series(memo, values, ("running max",), lambda: np.maximum.accumulate(data))
        prior = record[at - 1]
    elif at[0] < rule.lookback or len(at) > MAX_NEW_BARS:
        return None
    else:
        prior = np.array([data[p - rule.lookback : p].max() for p in at])
    x = (data[at] / prior - 1.0) * 100.0
    x = np.where(at < rule.min_history - 1, np.nan, x)
    xs = _rounded(x)
    measure, threshold = float(data[at[-1]]), float(prior[-1])
    summary = (
        f"{rule.symbol} {fmt_value(measure)}, {fmt_pct(float(xs[-1]))} "
        f"vs record {fmt_value(threshold)}"
    )
    return NewBars(values.index.values[at], xs, measure, threshold, summary)


def _extreme(
    rule: ExtremeSince,
    legs: dict[str, pd.Series],
    memo: Memo,
    market: MarketData,
    last: np.datetime64,
) -> NewBars | None:
    values = legs[rule.series]
    at = _from_new(values, last)
    if not len(at) or len(at) > MAX_NEW_BARS:
        return None
    data, days = values.to_numpy(dtype=np.float64), values.index.values
    if rule.since is not None:
        before, covered = _since_extremes(rule, data, days, at)
    else:
        before, covered = _years_extremes(rule, data, days, at)
    sign = 1.0 if rule.extreme == "high" else -1.0
    scale = np.where(np.abs(before) == 0.0, np.nan, np.abs(before))
    x = np.where(covered, sign * (data[at] - before) / scale * 100.0, np.nan)
    measure, threshold = float(data[at[-1]]), float(before[-1])
    word = "low" if rule.extreme == "low" else "high"
    summary = f"{rule.series} {fmt_value(measure)} vs prior {word} {fmt_value(threshold)}"
    return NewBars(days[at], _rounded(x), measure, threshold, summary)


def _since_extremes(
    rule: ExtremeSince, data: np.ndarray, days: np.ndarray, at: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The extreme since the rule's date before each new bar (NaN: none yet), and whether
    history covers the date: the frame's running extreme, from the bars before them."""
    assert rule.since is not None
    start = np.datetime64(rule.since, "ns")
    counted = np.where(days >= start, data, np.nan)
    pick = np.fmax if rule.extreme == "high" else np.fmin
    earlier = counted[: at[0]]
    base = np.nan
    if len(earlier) and not np.isnan(earlier).all():
        base = float(np.nanmax(earlier) if rule.extreme == "high" else np.nanmin(earlier))
    prior = pick.accumulate(np.concatenate(([base], counted[at[0] : at[-1]])))
    ok = bool(len(days)) and days[0] <= start + np.timedelta64(COVERAGE_SLACK)
    return prior, (days[at] > start) & ok


def _years_extremes(
    rule: ExtremeSince, data: np.ndarray, days: np.ndarray, at: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The extreme of the N years before each new bar (closed on the left, as the frame's
    rolling window) and whether history covers them."""
    assert rule.years is not None
    span = np.timedelta64(pd.Timedelta(days=round(rule.years * 365.25)))
    starts = days.searchsorted(days[at] - span, side="left")
    extreme = np.max if rule.extreme == "high" else np.min
    prior = np.array(
        [extreme(data[lo:p]) if p > lo else np.nan for lo, p in zip(starts, at, strict=True)]
    )
    slack = np.timedelta64(COVERAGE_SLACK)
    return prior, days[at] - span + slack >= days[0]


def _rally(
    rule: RallyFromLow,
    legs: dict[str, pd.Series],
    memo: Memo,
    market: MarketData,
    last: np.datetime64,
) -> NewBars | None:
    found = rally_measure(rule, legs, last)
    if found is None:
        return None
    stamps, measure = found
    xs = _rounded(measure - rule.threshold_pct)
    last_measure = float(measure[-1])
    summary = f"{rule.symbol} {fmt_pct(last_measure)} from its {rule.lookback}-session low"
    return NewBars(stamps, xs, last_measure, float(rule.threshold_pct), summary)


def rally_measure(
    rule: RallyFromLow, legs: dict[str, pd.Series], last: np.datetime64
) -> tuple[np.ndarray, np.ndarray] | None:
    """The new bars' dates and rise from the low of `lookback` sessions, in % (every rally
    rule on the same leg and lookback reads the same)."""
    values = legs[rule.symbol]
    data = values.to_numpy(dtype=np.float64)
    at = _from_new(values, last)
    if not len(at) or at[0] < rule.lookback - 1 or len(at) > MAX_NEW_BARS:
        return None
    low = np.array([data[p - rule.lookback + 1 : p + 1].min() for p in at])
    return values.index.values[at], (data[at] / low - 1.0) * 100.0


def _rate_change(
    rule: RateChange,
    legs: dict[str, pd.Series],
    memo: Memo,
    market: MarketData,
    last: np.datetime64,
) -> NewBars | None:
    values = legs[rule.series]
    at = _from_new(values, last)
    if not len(at) or at[0] < 1:
        return None
    changes, moved = per_series(memo, values, ("changes",), lambda: _changes(values))
    change = changes[at]
    stepped = np.where(np.abs(change) >= rule.min_change_bps, change, 0.0)
    x = -stepped if rule.direction == "down" else stepped
    threshold = -rule.min_change_bps if rule.direction == "down" else rule.min_change_bps
    end = at[-1]
    level = float(values.to_numpy(dtype=np.float64)[end])
    summary = f"{rule.series} at {level:.2f}% ({_last_move(values, changes, moved[end])})"
    return NewBars(
        values.index.values[at], _rounded(x), float(change[-1]), float(threshold), summary
    )


def _changes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each bar's change in bps (as the frame rounds it) and the position of the last bar up
    to it that moved (-1: none)."""
    changes = (values.diff() * 100.0).round(DECIMALS).to_numpy(dtype=np.float64)
    positions = np.arange(len(changes))
    moving = np.where(np.nan_to_num(changes, nan=0.0) != 0, positions, -1)
    return changes, np.maximum.accumulate(moving) if len(moving) else moving


def _last_move(values: pd.Series, changes: np.ndarray, moved: int) -> str:
    """`signals.describe._last_move`, from the position of the last move."""
    if moved < 0:
        return "no change in the stored history"
    return f"last change {fmt_bps(float(changes[moved]))} on {values.index[moved].date()}"


def _curve(
    rule: Curve, legs: dict[str, pd.Series], memo: Memo, market: MarketData, last: np.datetime64
) -> NewBars | None:
    values = legs[curve_expression(rule)]
    spread_bps = values.to_numpy(dtype=np.float64) * 100.0
    at = _from_new(values, last)
    if not len(at):
        return None
    level = float(spread_bps[at[-1]])
    summary = f"{curve_expression(rule)} at {fmt_bps(level)}"
    if rule.mode == "level":
        now = spread_bps[at]
        x = rule.level_bps - now if rule.direction == "down" else now - rule.level_bps
        return NewBars(values.index.values[at], _rounded(x), level, float(rule.level_bps), summary)
    assert rule.change_bps is not None and rule.sessions is not None
    if at[0] < rule.sessions:
        return None
    change = spread_bps[at] - spread_bps[at - rule.sessions]
    if rule.direction == "either":
        x = np.sign(change) * np.clip(np.abs(change) - rule.change_bps, 0.0, None)
    else:
        x = (0.0 - change if rule.direction == "down" else change - 0.0) - rule.change_bps
    threshold = -rule.change_bps if rule.direction == "down" else rule.change_bps
    return NewBars(
        values.index.values[at], _rounded(x), float(change[-1]), float(threshold), summary
    )


KINDS: dict[type[Rule], Callable[..., NewBars | None]] = {
    RelativeCrossover: _pair,
    SpreadThreshold: _pair,
    NewHigh: _new_high,
    ExtremeSince: _extreme,
    RallyFromLow: _rally,
    RateChange: _rate_change,
    Curve: _curve,
}

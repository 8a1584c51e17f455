"""Evaluate a rule live (bar by bar from its persisted state) or backtest it in one pass.

Both paths compute the rule's measure frame (`signals.frames`) and feed its bars, in order,
through the same `signals.state.step`; live evaluation only steps the bars after the state's
last session, so catching up missed sessions gives the events a backtest gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import overload

import numpy as np
import pandas as pd

from signals.batch import derived
from signals.describe import build_event, summarize
from signals.frames import RuleFrame, leg_specs, rule_frame, waiting_reason
from signals.holes import Hole, holes_at
from signals.legs import inspect_leg, split_expression, stale_reason
from signals.memo import Memo, per_series, scoped, shared
from signals.models import Evaluation, Event, MarketData, RuleState
from signals.priming import PrimingBars
from signals.rules import Curve, RallyFromLow, Rule, SpreadThreshold
from signals.state import MachineOptions, Transition, run_steps, unsettled_days

_UNKNOWN = "no data stored (unknown symbol or series)"


def machine_options(rule: Rule) -> MachineOptions:
    """The state-machine options of a rule (its anti-flap settings and threshold semantics).

    Kept on the rule once computed, as `frame_key` is (a frozen rule's fields never change).
    """
    kept = rule.__dict__.get("_machine_options")
    if kept is None:
        kept = _options_of(rule)
        object.__setattr__(rule, "_machine_options", kept)
    return kept  # type: ignore[no-any-return]


def _options_of(rule: Rule) -> MachineOptions:
    two_sided = getattr(rule, "direction", None) == "either"
    inclusive = isinstance(rule, SpreadThreshold | RallyFromLow) or (
        isinstance(rule, Curve) and rule.mode == "change" and not two_sided
    )
    return MachineOptions(
        confirm=rule.confirm,
        hysteresis=rule.hysteresis,
        cooldown=rule.cooldown,
        trigger=rule.trigger,
        inclusive=inclusive,
        two_sided=two_sided,
    )


def evaluate_rule(
    rule: Rule,
    market: MarketData,
    state: RuleState | None = None,
    *,
    as_of: date | None = None,
    expected_session: date | None = None,
    built: RuleFrame | None = None,
) -> Evaluation:
    """Step `rule` through every bar after `state.last_session` up to `as_of`.

    Status is NO DATA (unknown leg, bad last bar, history too thin) or STALE (a leg's last bar
    is older than `expected_session`), with the reason; OK otherwise. Provisional bars are
    evaluated only for intraday rules and never advance the persisted state. `built` is the
    rule's frame up to `as_of` when the caller already has it.
    """
    state = state or RuleState()
    problems = _leg_problems(rule, market, as_of)
    if any(problem.endswith(_UNKNOWN) for problem in problems):
        return Evaluation(rule.id, "NO DATA", "; ".join(problems), state, unit=rule.unit)
    built = built if built is not None else rule_frame(rule, market, as_of)
    usable = _usable(built)
    # A bad bar is the reason to fix first; then a hole; then why the last bar must wait.
    waiting = waiting_reason(rule, built)
    blocked = _hole_reason(built) or waiting
    problems = problems or ([blocked] if blocked else [])
    # Waiting on a short window: say where the new period stands, not where the last ended.
    waits = waiting is not None and waiting == blocked
    now = _summary(rule, built, built.index[-1].date()) if waits else None
    if not len(usable.xs):
        reason = "; ".join(problems or [built.note or "not enough history for this rule yet"])
        return Evaluation(rule.id, "NO DATA", reason, state, unit=rule.unit, summary=now or "")
    # Valid bars before a bad last bar are still stepped (the frame leaves the bad one out),
    # so a check that lands on a bad bar catches up exactly as a backtest would.
    new_state, events = _step_new_bars(rule, built, usable, state)
    evaluation = _evaluation(rule, market, built, usable, new_state, events, expected_session)
    if problems:
        evaluation = replace(evaluation, status="NO DATA", reason="; ".join(problems))
    if now:
        evaluation = replace(evaluation, summary=now)
    return evaluation


def _leg_problems(rule: Rule, market: MarketData, as_of: date | None) -> list[str]:
    """Unknown legs, and a NaN, non-positive or duplicated last bar on or before `as_of`."""
    _, column, positive = leg_specs(rule)[0]  # the same column the frame reads
    memo = scoped(market, as_of)
    problems = []
    for leg in rule.legs():
        for leaf in split_expression(leg):
            day = as_of or _last_day(market, leaf)
            if day is None:
                problems.append(f"{leaf}: {_UNKNOWN}")
                continue
            found = _inspected(market, memo, (leaf, column, day, not rule.intraday, positive))
            problems.extend(found)
    return problems


def _inspected(
    market: MarketData, memo: Memo, asked: tuple[str, str, date, bool, bool]
) -> tuple[str, ...]:
    """`inspect_leg`, once per market: every rule on this leaf and column asks the same."""
    leaf, column, day, final_only, positive = asked
    return shared(
        memo,
        ("inspect", *asked),
        lambda: tuple(
            inspect_leg(market, leaf, column, day, final_only=final_only, positive=positive)
        ),
    )


def _last_day(market: MarketData, leaf: str) -> date | None:
    """The leaf's last stored day, once per market (every rule on the leaf asks)."""
    return shared(scoped(market, None), ("last day", leaf), lambda: _stored_last_day(market, leaf))


def _stored_last_day(market: MarketData, leaf: str) -> date | None:
    if leaf in market.prices and len(market.prices[leaf]):
        return market.prices[leaf].index[-1].date()
    if leaf in market.series and len(market.series[leaf]):
        return market.series[leaf].index[-1].date()
    return None


@dataclass(frozen=True)
class _Usable:
    """The bars of a rule frame that have a measure, as arrays (filtering the whole frame per
    rule costs more than the rest of a check): x, dates, final flags, frame positions."""

    xs: np.ndarray
    stamps: np.ndarray
    final: np.ndarray
    positions: np.ndarray
    in_order: bool  # the dates ascend: bars after a day are a tail, found by search

    @classmethod
    def of(cls, built: RuleFrame) -> _Usable:
        xs = built.column("x").astype(np.float64, copy=False)
        keep = np.flatnonzero(~np.isnan(xs))
        # Measured bars are mostly every bar after the first window: a slice, not a copy.
        picked: slice | np.ndarray = keep
        if len(keep) and keep[-1] - keep[0] + 1 == len(keep):
            picked = slice(int(keep[0]), int(keep[-1]) + 1)
        final = built.column("final").astype(bool, copy=False)[picked]
        return cls(xs[picked], built.index.values[picked], final, keep, built.in_order)

    def after(self, day: date | None) -> np.ndarray:
        """The positions of the bars later than `day` (all of them when there is none)."""
        if day is None:
            return np.arange(len(self.xs))
        if self.in_order:
            start = int(self.stamps.searchsorted(np.datetime64(day), side="right"))
            return np.arange(start, len(self.xs))
        return np.flatnonzero(self.stamps > np.datetime64(day))


def _step_new_bars(
    rule: Rule, built: RuleFrame, usable: _Usable, state: RuleState
) -> tuple[RuleState, list[Event]]:
    new = usable.after(state.last_session)
    final = new[usable.final[new]]
    options = machine_options(rule)
    new_state, transitions = run_steps(
        state, usable.xs[final], BarDays(usable.stamps[final]), options
    )
    provisional = new[~usable.final[new]]
    if len(provisional):
        # Evaluate the bar still trading on a copy: it may alert, but never moves the state.
        last = provisional[-1:]
        _, more = run_steps(new_state, usable.xs[last], BarDays(usable.stamps[last]), options)
        transitions = transitions + more
    return new_state, _events(rule, built, transitions)


def _final_bars(built: RuleFrame) -> tuple[np.ndarray, np.ndarray]:
    """The x values and dates of the final bars that have a measure: what a state steps."""
    return derived(built, ("final bars",), lambda: _measured_final_bars(built))


def _measured_final_bars(built: RuleFrame) -> tuple[np.ndarray, np.ndarray]:
    usable = _usable(built)
    return usable.xs[usable.final], usable.stamps[usable.final]


def _usable(built: RuleFrame) -> _Usable:
    return derived(built, ("usable",), lambda: _Usable.of(built))


def _bars(frame: pd.DataFrame) -> tuple[np.ndarray, Sequence[date]]:
    return frame["x"].to_numpy(dtype=np.float64), BarDays(frame.index.to_numpy())


class BarDays(Sequence[date]):
    """A frame's bar dates, made `date` objects only where read: the state machine skips quiet
    bars, so stepping decades of history reads few of them (converted a block at a time)."""

    _BLOCK = 256

    def __init__(self, stamps: np.ndarray) -> None:
        self._stamps = stamps
        self._blocks: dict[int, list[date]] = {}

    def __len__(self) -> int:
        return len(self._stamps)

    @overload
    def __getitem__(self, index: int) -> date: ...
    @overload
    def __getitem__(self, index: slice) -> BarDays: ...
    def __getitem__(self, index: int | slice) -> date | BarDays:
        if isinstance(index, slice):
            return BarDays(self._stamps[index])
        position = range(len(self._stamps))[index]  # negative positions, IndexError past the end
        block, offset = divmod(position, self._BLOCK)
        if block not in self._blocks:
            start = block * self._BLOCK
            chunk = self._stamps[start : start + self._BLOCK].astype("datetime64[D]")
            self._blocks[block] = chunk.tolist()
        return self._blocks[block][offset]


def _events(rule: Rule, built: RuleFrame, transitions: list[Transition]) -> list[Event]:
    wanted = rule.emit_reversed and getattr(rule, "direction", None) != "either"
    kept = [t for t in transitions if t.kind == "fired" or wanted]
    kept = _not_across_holes(rule, built, kept)
    if not kept:
        return []
    rows = built.rows(np.array([built.position(t.day) for t in kept]))
    return [build_event(rule, t, built, row) for t, row in zip(kept, rows, strict=True)]


def _hole_reason(built: RuleFrame) -> str | None:
    """The holes that keep the last bar from being measured, as one line, or None."""
    if built.reach is None or not len(built.index) or not built.column("hole")[-1]:
        return None  # the last bar is measured (or there is none: then nothing is found)
    found = holes_at(built.frame, built.reach, built.holes)
    return "; ".join(hole.describe() for hole in found) or None


def _not_across_holes(
    rule: Rule, built: RuleFrame, transitions: list[Transition]
) -> list[Transition]:
    """Drop what fired or reversed while the state was unsettled by a hole, and the reversal
    of an episode that fired then (it was never announced)."""
    if not transitions or not built.has("after_hole") or not built.column("after_hole").any():
        return transitions  # nothing to drop: the unsettled bars need not be found
    quiet = {day.isoformat() for day in unsettled_after_holes(rule, built)}
    return [t for t in transitions if t.day.isoformat() not in quiet and t.episode not in quiet]


def unsettled_after_holes(rule: Rule, built: RuleFrame) -> list[date]:
    """Bars after each hole until the rule's state no longer depends on what it missed."""
    frame = built.frame
    usable = frame[frame["x"].notna() & frame["final"]]
    xs, days = _bars(usable)
    options = machine_options(rule)
    found: list[date] = []
    for start in np.flatnonzero(usable["after_hole"].to_numpy(dtype=bool)):
        found.extend(unsettled_days(xs[start:], days[start:], options))
    return found


def _evaluation(
    rule: Rule,
    market: MarketData,
    built: RuleFrame,
    usable: _Usable,
    state: RuleState,
    events: list[Event],
    expected: date | None,
) -> Evaluation:
    position = int(usable.positions[-1])
    measure, threshold = (built.value(name, position) for name in ("measure", "threshold"))
    session = pd.Timestamp(usable.stamps[-1]).date()
    stale = derived(built, ("stale", expected), lambda: _stale(built, market, expected))
    return Evaluation(
        rule_id=rule.id,
        status="STALE" if stale else "OK",
        reason="; ".join(stale),
        state=state,
        events=tuple(events),
        session=session,
        measure=float(measure),
        threshold=_maybe(threshold),
        unit=rule.unit,
        summary=_summary(rule, built, session),
    )


def _summary(rule: Rule, built: RuleFrame, session: date) -> str:
    """`summarize`, once per frame and session: it reads only what the frame depends on."""
    return derived(built, ("summary", session), lambda: summarize(rule, built, session))


def _maybe(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def _stale(built: RuleFrame, market: MarketData, expected: date | None) -> list[str]:
    """A reason per leg whose last usable bar is older than the expected session allows."""
    if expected is None:
        return []
    memo = scoped(market, None)
    reasons = []
    for name, values in built.legs.items():
        if len(values):
            reason = _leg_stale(memo, market, name, values, expected)
            reasons.extend([reason] if reason else [])
    return reasons


def _leg_stale(
    memo: Memo, market: MarketData, name: str, values: pd.Series, expected: date
) -> str | None:
    """`stale_reason` of one loaded leg, once per leg: every frame on it asks the same."""
    leaves = split_expression(name)
    leaf = next((item for item in leaves if item in market.prices), leaves[0])
    return per_series(
        memo,
        values,
        ("stale", name, expected),
        lambda: stale_reason(market, leaf, values.index[-1].date(), expected),
    )


def last_bar(
    rule: Rule, market: MarketData, as_of: date | None = None, built: RuleFrame | None = None
) -> date | None:
    """The last final bar on or before `as_of` with a usable measure (None if there is none).

    `built` is the rule's frame up to `as_of` when the caller already has it.
    """
    _, stamps = _final_bars(built if built is not None else rule_frame(rule, market, as_of))
    return pd.Timestamp(stamps[-1]).date() if len(stamps) else None


def prime_state(
    rule: Rule, market: MarketData, before: date, built: RuleFrame | None = None
) -> RuleState:
    """The state a rule would have after every final bar before `before` (no events kept).

    `built` is the rule's frame on all the data when the caller already has it.
    """
    built = built if built is not None else rule_frame(rule, market)
    options = machine_options(rule)
    # Rules sharing a frame and their anti-flap options share the primed state.
    return derived(built, ("primed", before, options), lambda: _settled(built, before, options))


def _settled(built: RuleFrame, before: date, options: MachineOptions) -> RuleState:
    """`settle` on the final bars before `before`, sharing its searches' arrays with every
    rule primed on this frame up to the same bar."""
    bars = derived(built, ("priming bars", before), lambda: _priming_bars(built, before))
    return bars.settle(options)


def _priming_bars(built: RuleFrame, before: date) -> PrimingBars:
    xs, stamps = _final_bars(built)
    if _usable(built).in_order:  # the bars before a day are a head of them
        end = int(stamps.searchsorted(np.datetime64(before)))
        return PrimingBars(xs[:end], BarDays(stamps[:end]))
    earlier = stamps < np.datetime64(before)
    return PrimingBars(xs[earlier], BarDays(stamps[earlier]))


def backtest_rule(
    rule: Rule, market: MarketData, start: date | None = None, end: date | None = None
) -> list[Event]:
    """Every event the rule would have emitted on final bars up to `end`, dated `start` or later.

    The state machine runs from the first bar of history (so the state on `start` is the one
    live evaluation would have had), exactly as `evaluate_rule` steps it.
    """
    return backtest_report(rule, market, start, end)[0]


def backtest_report(
    rule: Rule, market: MarketData, start: date | None = None, end: date | None = None
) -> tuple[list[Event], tuple[Hole, ...]]:
    """`backtest_rule`'s events, and the holes in the rule's legs no measure was taken across."""
    built = rule_frame(rule, market, end)
    xs, stamps = _final_bars(built)
    _, transitions = run_steps(RuleState(), xs, BarDays(stamps), machine_options(rule))
    if start is not None:
        transitions = [t for t in transitions if t.day >= start]
    return _events(rule, built, transitions), built.holes

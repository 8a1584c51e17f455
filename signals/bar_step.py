"""A rule stepped before takes its new bars from per-leg measures, without a frame of its own.

After one new session, almost every rule's new bar changes nothing but its state's date: no
transition, no hole, nothing to wait for. Such a rule needs its measure at the new bars only,
and what that measure reads is shared by every rule on the same leg: the leg's window
returns and spans, its running record (the all-time high before each bar), the extreme
since a date, the rolling extreme of N years, the last change of a rate. Those aggregates
are computed once per leg for the whole check (numpy over the leg, in the market's memo);
each rule then reads them at its new bars and compares its own threshold, a few float
operations, instead of building a frame with pandas.

`step_new_bars` returns the evaluation `signals.evaluate.evaluate_rule` would give, or None
whenever anything but a quiet step could happen: a transition (its event is built from the
frame), a hole inside what the new bars read, a leaf without data, a pair's bad last bar, a
period-to-date window still waiting, a new bar without a measure, an intraday rule. The
caller then evaluates the rule on its frame as before. What each kind measures is
`signals.bar_measures`; every formula is the frame's (`signals.frames`), operation for
operation, so the floats are the same bits; tests check the two paths session by session.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd

from signals.bar_measures import KINDS, MAX_NEW_BARS, NewBars
from signals.evaluate import BarDays, machine_options
from signals.frames import leg_specs, shared_leg
from signals.holes import Hole, find_holes
from signals.legs import DataError, inspect_leg, split_expression, stale_reason
from signals.memo import Memo, per_series, scoped, shared
from signals.models import Evaluation, MarketData, RuleState
from signals.rules import Rule
from signals.state import run_steps

__all__ = ["MAX_NEW_BARS", "Inputs", "NewBars", "inputs_of", "step_new_bars"]


def step_new_bars(
    rule: Rule,
    market: MarketData,
    state: RuleState,
    expected: date | None,
    reach: date | None = None,
) -> Evaluation | None:
    """The evaluation of a stepped rule's quiet new bars, or None when its frame must decide.

    `reach` is a day no new bar's measure reads before (None: the whole history): a hole
    ending before it cannot touch them.
    """
    if rule.intraday or state.last_session is None or type(rule) not in KINDS:
        return None
    memo = scoped(market, None)
    specs = tuple(leg_specs(rule))
    read = shared(
        memo,
        ("bar inputs", specs, rule.legs(), expected),
        lambda: inputs_of(rule, market, memo, specs, expected),
    )
    if read.unknown or any(reach is None or hole.last_missing >= reach for hole in read.holes):
        return None
    found = KINDS[type(rule)](rule, read.legs, memo, market, np.datetime64(state.last_session))
    if found is None or not len(found.xs) or np.isnan(found.xs).any():
        return None
    new = found.stamps > np.datetime64(state.last_session)
    if new.any():
        options = machine_options(rule)
        state, happened = run_steps(state, found.xs[new], BarDays(found.stamps[new]), options)
        if happened:
            return None
    evaluation = Evaluation(
        rule_id=rule.id,
        status="STALE" if read.stale else "OK",
        reason="; ".join(read.stale),
        state=state,
        session=pd.Timestamp(found.stamps[-1]).date(),
        measure=found.measure,
        threshold=found.threshold,
        unit=rule.unit,
        summary=found.summary,
    )
    if read.problems:  # the bars before a bad last bar are stepped; the rule says why
        return replace(evaluation, status="NO DATA", reason="; ".join(read.problems))
    return evaluation


@dataclass(frozen=True)
class Inputs:
    """What every rule on the same legs reads besides its measure, once per check."""

    legs: dict[str, pd.Series]  # the cleaned legs its frame reads
    unknown: bool  # a leaf without any data (the frame says so without a frame)
    problems: tuple[str, ...]  # with a leaf's last bar: NO DATA, and why
    holes: tuple[Hole, ...]  # sessions missing from its priced legs
    stale: tuple[str, ...]  # why its legs are behind the expected session


def inputs_of(
    rule: Rule,
    market: MarketData,
    memo: Memo,
    specs: tuple[tuple[str, str, bool], ...],
    expected: date | None,
) -> Inputs:
    problems = _leaf_problems(rule, market, memo)
    try:
        legs = {name: shared_leg(market, name, col, True, pos, None) for name, col, pos in specs}
    except DataError:
        problems = None  # a leg the frame cannot load either: it says why
    if problems is None:
        return Inputs({}, True, (), (), ())
    stale = tuple(_stale(market, memo, legs, expected))
    return Inputs(legs, False, problems, _holes(market, memo, legs), stale)


def _leaf_problems(rule: Rule, market: MarketData, memo: Memo) -> tuple[str, ...] | None:
    """Each leaf's problems on its last bar, in `evaluate_rule`'s order and words (None: a
    leaf has no data at all)."""
    _, column, positive = leg_specs(rule)[0]
    problems: list[str] = []
    for leg in rule.legs():
        for leaf in split_expression(leg):
            day = shared(memo, ("last day", leaf), lambda leaf=leaf: _last_day(market, leaf))
            if day is None:
                return None
            asked = (leaf, column, day, True, positive)
            problems.extend(
                shared(
                    memo,
                    ("inspect", *asked),
                    lambda leaf=leaf, day=day: tuple(
                        inspect_leg(market, leaf, column, day, final_only=True, positive=positive)
                    ),
                )
            )
    return tuple(problems)


def _last_day(market: MarketData, leaf: str) -> date | None:
    for values in (market.prices.get(leaf), market.series.get(leaf)):
        if values is not None and len(values):
            return values.index[-1].date()  # type: ignore[no-any-return]
    return None


def _holes(market: MarketData, memo: Memo, legs: dict[str, pd.Series]) -> tuple[Hole, ...]:
    """The sessions missing from the priced legs (the frame marks the bars they spoil)."""
    sessions = market.sessions
    if sessions is None:
        return ()
    found: list[Hole] = []
    for name, values in legs.items():
        if any(leaf in market.prices for leaf in split_expression(name)):
            found.extend(
                per_series(
                    memo,
                    values,
                    ("holes", name),
                    lambda values=values, name=name: tuple(
                        find_holes(pd.DatetimeIndex(values.index), sessions, name)
                    ),
                )
            )
    return tuple(found)


def _stale(
    market: MarketData, memo: Memo, legs: dict[str, pd.Series], expected: date | None
) -> list[str]:
    """`signals.evaluate._stale` on the rule's legs."""
    if expected is None:
        return []
    reasons = []
    for name, values in legs.items():
        if len(values):
            leaves = split_expression(name)
            leaf = next((item for item in leaves if item in market.prices), leaves[0])
            last = values.index[-1].date()
            reason = shared(
                memo,
                ("stale", leaf, last, expected),
                lambda leaf=leaf, last=last: stale_reason(market, leaf, last, expected),
            )
            reasons.extend([reason] if reason else [])
    return reasons

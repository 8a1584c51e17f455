"""The quiet new bars of many rules at once: one measure per group, thresholds as arrays.

`signals.bar_step.step_new_bars` steps one rule; a check of 10,000 rules called it 10,000
times, reading the same aggregates again for every rule. Here the stepped rules are grouped
by what their measure reads (kind, legs, window or lookback, and the state's last session):
each group reads its inputs and computes the new bars' measure once, turns it into every
member's signed distance `x` in one array (a row per rule: thresholds, directions and
waiting rules as arrays), and compares the rows with the members' states together. A member
whose state is idle and whose condition holds on no new bar is quiet: its state only moves
to the new session. The others (pending, firing, cooling down) are stepped one by one, from
their row, and any that would fire or reverse is left to its frame, as `step_new_bars` does.

Every formula is `signals.bar_measures`' operation for operation, so the floats are the
same bits; a property test compares the two paths on random thresholds, options and states.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd

from signals.bar_measures import KINDS, pair_measure, rally_measure
from signals.bar_step import Inputs, inputs_of
from signals.evaluate import BarDays, machine_options
from signals.formatting import fmt_bps, fmt_pct, fmt_pp
from signals.frames import DECIMALS, leg_specs
from signals.measures import is_period_to_date
from signals.memo import Memo, scoped, shared
from signals.models import Evaluation, MarketData, RuleState
from signals.rules import (
    ExtremeSince,
    NewHigh,
    PairRule,
    RallyFromLow,
    RelativeCrossover,
    Rule,
    SpreadThreshold,
)
from signals.state import run_steps

Reach = Callable[[Rule, RuleState], "date | None"]
Member = tuple[Rule, RuleState]


@dataclass(frozen=True)
class GroupBars:
    """A group's new bars: shared dates, a row of `x` per member, and what each one says."""

    stamps: np.ndarray  # datetime64 of each bar read (the new ones, or the last one)
    xs: np.ndarray  # (members, bars), rounded as the frame rounds
    measures: list[float]
    thresholds: list[float | None]
    summaries: list[str]
    usable: np.ndarray  # False: the member's frame decides (its measure could not be read)


def step_groups(
    rules: Sequence[Rule],
    market: MarketData,
    states: Mapping[str, RuleState],
    expected: date | None,
    reach: Reach,
) -> dict[str, Evaluation]:
    """The evaluations `step_new_bars` gives the stepped rules whose new bars are quiet, by
    rule id (a rule missing: its frame decides)."""
    memo = scoped(market, None)
    groups: dict[tuple[object, ...], list[Member]] = {}
    for rule in rules:
        state = states.get(rule.id)
        if state is None or state.last_session is None or rule.intraday:
            continue
        if type(rule) in KINDS:
            groups.setdefault(group_key(rule, state.last_session), []).append((rule, state))
    found: dict[str, Evaluation] = {}
    moved: dict[RuleState, RuleState] = {}
    for members in groups.values():
        found.update(_step_group(members, market, memo, (expected, reach, moved)))
    return found


def group_key(rule: Rule, last: date) -> tuple[object, ...]:
    """What the rule's new-bar measure reads: rules with equal keys share it."""
    return (type(rule), tuple(leg_specs(rule)), rule.legs(), _measure_key(rule), last)


def _step_group(
    members: list[Member],
    market: MarketData,
    memo: Memo,
    check: tuple[date | None, Reach, dict[RuleState, RuleState]],
) -> dict[str, Evaluation]:
    """`check`: the expected session, the reach of a rule's new bars, and the states moved
    so far (equal idle states move to one object)."""
    expected, reach, moved = check
    rep, state = members[0]
    specs = tuple(leg_specs(rep))
    read: Inputs = shared(
        memo,
        ("bar inputs", specs, rep.legs(), expected),
        lambda: inputs_of(rep, market, memo, specs, expected),
    )
    if read.unknown:
        return {}
    if read.holes:  # only a hole ending before what a member's new bars read spares it
        members = [m for m in members if _clear_of(read, reach(*m))]
        if not members:
            return {}
    last = np.datetime64(state.last_session)
    rules = [rule for rule, _ in members]
    bars = _BUILDERS.get(type(rep), _one_by_one)(rules, read.legs, memo, market, last)
    if bars is None or not len(bars.stamps):
        return {}
    return _evaluations(members, bars, read, last, moved)


def _clear_of(read: Inputs, reach: date | None) -> bool:
    return not any(reach is None or hole.last_missing >= reach for hole in read.holes)


def _evaluations(
    members: list[Member],
    bars: GroupBars,
    read: Inputs,
    last: np.datetime64,
    moved: dict[RuleState, RuleState],
) -> dict[str, Evaluation]:
    """Each member's evaluation, its state stepped over the new bars (none when it moves)."""
    new = bars.stamps > last
    usable = bars.usable & ~np.isnan(bars.xs).any(axis=1)
    states = _stepped(members, bars.xs[:, new], bars.stamps[new], usable, moved)
    session = pd.Timestamp(bars.stamps[-1]).date()
    status, reason = ("STALE", "; ".join(read.stale)) if read.stale else ("OK", "")
    if read.problems:  # the bars before a bad last bar are stepped; the rule says why
        status, reason = "NO DATA", "; ".join(read.problems)
    found = {}
    for row, (rule, _) in enumerate(members):
        state = states[row]
        if state is not None:
            found[rule.id] = Evaluation(
                rule_id=rule.id,
                status=status,
                reason=reason,
                state=state,
                session=session,
                measure=bars.measures[row],
                threshold=bars.thresholds[row],
                unit=rule.unit,
                summary=bars.summaries[row],
            )
    return found


def _stepped(
    members: list[Member],
    xs: np.ndarray,
    stamps: np.ndarray,
    usable: np.ndarray,
    moved: dict[RuleState, RuleState],
) -> list[RuleState | None]:
    """Each member's state after the new bars (None: unusable, or something happens).

    An idle state (nothing pending or firing, no cooldown) stays idle on every bar whose
    condition does not hold: `signals.state.step`'s fast path, compared for all at once.
    """
    if not xs.shape[1]:
        return [state if ok else None for (_, state), ok in zip(members, usable, strict=True)]
    options = [machine_options(rule) for rule, _ in members]
    inclusive = np.array([o.inclusive for o in options])[:, None]
    two_sided = np.array([o.two_sided for o in options])[:, None]
    holds_up = np.where(inclusive, xs >= 0, xs > 0)
    holds_down = two_sided & np.where(inclusive, xs <= 0, xs < 0)
    silent = ~(holds_up | holds_down).any(axis=1)
    day = BarDays(stamps)
    out: list[RuleState | None] = []
    for row, (_, state) in enumerate(members):
        if not usable[row]:
            out.append(None)
        elif silent[row] and _idle(state):
            # One object per distinct idle state: what stores and keys it (its JSON, its
            # text in the reuse key) is then computed once, not once per rule.
            known = moved.get(state)
            if known is None or known.last_session != day[-1]:
                known = moved[state] = replace(state, last_session=day[-1])
            out.append(known)
        else:
            after, happened = run_steps(state, xs[row], day, options[row])
            out.append(None if happened else after)
    return out


def _idle(state: RuleState) -> bool:
    """`signals.state._is_idle`'s test of the state alone."""
    up, down = state.up, state.down
    return not (
        state.cooldown
        or up.phase != "inactive"
        or down.phase != "inactive"
        or up.streak
        or down.streak
    )


# --- one builder per kind: the measure once, every member's x as a row ---------------------


def _pair_group(
    rules: list[Rule], legs: dict[str, pd.Series], memo: Memo, market: MarketData, last: object
) -> GroupBars | None:
    rep = rules[0]
    assert isinstance(rep, PairRule)
    found = pair_measure(rep, legs, memo, market, last)  # type: ignore[arg-type]
    if found is None:
        return None
    days, spread, span, a, b = found
    sign = np.array([-1.0 if r.direction == "down" else 1.0 for r in rules])  # type: ignore[attr-defined]
    if isinstance(rep, RelativeCrossover):
        measure = spread * 100.0
        levels = [float(r.level) for r in rules]  # type: ignore[attr-defined]
        x = sign[:, None] * (measure[None, :] - np.array(levels)[:, None])
        thresholds: list[float | None] = list(levels)
    else:
        measure = spread * 10_000.0
        bps = np.array([r.threshold_bps for r in rules])  # type: ignore[attr-defined]
        x = sign[:, None] * measure[None, :] - bps[:, None]
        thresholds = [float(s * t) for s, t in zip(sign, bps, strict=True)]
    if is_period_to_date(rep.parsed_window):
        if span[-1] < rep.min_sessions:
            return None  # waiting: the frame says so
        x = np.where(span >= rep.min_sessions, x, np.nan)
    value = float(measure[-1])
    said = fmt_pp(value) if rep.unit == "pp" else fmt_bps(value)
    label = rep.parsed_window.text
    summary = f"{rep.a} {fmt_pct(a)} vs {rep.b} {fmt_pct(b)} {label} ({said})"
    return _rows(days, x, [value] * len(rules), thresholds, [summary] * len(rules))


def _rally_group(
    rules: list[Rule], legs: dict[str, pd.Series], memo: Memo, market: MarketData, last: object
) -> GroupBars | None:
    rep = rules[0]
    assert isinstance(rep, RallyFromLow)
    found = rally_measure(rep, legs, last)  # type: ignore[arg-type]
    if found is None:
        return None
    stamps, measure = found
    thresholds = [float(r.threshold_pct) for r in rules]  # type: ignore[attr-defined]
    x = measure[None, :] - np.array(thresholds)[:, None]
    value = float(measure[-1])
    summary = f"{rep.symbol} {fmt_pct(value)} from its {rep.lookback}-session low"
    return _rows(stamps, x, [value] * len(rules), list(thresholds), [summary] * len(rules))


def _shared_group(
    rules: list[Rule], legs: dict[str, pd.Series], memo: Memo, market: MarketData, last: object
) -> GroupBars | None:
    """Kinds whose `x` has no threshold of the rule's (a record, an extreme): one for all."""
    found = KINDS[type(rules[0])](rules[0], legs, memo, market, last)
    if found is None:
        return None
    count = len(rules)
    xs = np.broadcast_to(found.xs, (count, len(found.xs)))
    return GroupBars(
        found.stamps,
        xs,
        [found.measure] * count,
        [found.threshold] * count,
        [found.summary] * count,
        np.ones(count, dtype=bool),
    )


def _one_by_one(
    rules: list[Rule], legs: dict[str, pd.Series], memo: Memo, market: MarketData, last: object
) -> GroupBars | None:
    """Kinds read rule by rule (a rate's change, a curve): cheap already, gathered as rows."""
    builder = KINDS[type(rules[0])]
    found = [builder(rule, legs, memo, market, last) for rule in rules]
    first = next((bars for bars in found if bars is not None), None)
    if first is None:
        return None
    usable = np.array(
        [bars is not None and np.array_equal(bars.stamps, first.stamps) for bars in found]
    )
    rows = [bars.xs if ok and bars else first.xs for bars, ok in zip(found, usable, strict=True)]
    return GroupBars(
        first.stamps,
        np.vstack(rows),
        [bars.measure if bars else np.nan for bars in found],
        [bars.threshold if bars else None for bars in found],
        [bars.summary if bars else "" for bars in found],
        usable,
    )


def _rows(
    stamps: np.ndarray,
    x: np.ndarray,
    measures: list[float],
    thresholds: list[float | None],
    summaries: list[str],
) -> GroupBars:
    ones = np.ones(len(measures), dtype=bool)
    return GroupBars(stamps, np.round(x, DECIMALS), measures, thresholds, summaries, ones)


_BUILDERS: dict[type[Rule], Callable[..., GroupBars | None]] = {
    RelativeCrossover: _pair_group,
    SpreadThreshold: _pair_group,
    RallyFromLow: _rally_group,
    NewHigh: _shared_group,
    ExtremeSince: _shared_group,
}

# What, besides kind, legs and basis, each kind's measure reads: rules equal on it share it
# (a kind read rule by rule is grouped by its legs alone, for its inputs).
_MEASURE_KEYS: dict[type[Rule], Callable[[Rule], tuple[object, ...]]] = {
    RelativeCrossover: lambda r: (r.window, r.min_sessions),  # type: ignore[attr-defined]
    SpreadThreshold: lambda r: (r.window, r.min_sessions),  # type: ignore[attr-defined]
    NewHigh: lambda r: (r.lookback, r.min_history),  # type: ignore[attr-defined]
    ExtremeSince: lambda r: (r.since, r.years, r.extreme),  # type: ignore[attr-defined]
    RallyFromLow: lambda r: (r.lookback,),  # type: ignore[attr-defined]
}


def _measure_key(rule: Rule) -> tuple[object, ...]:
    key = _MEASURE_KEYS.get(type(rule))
    return () if key is None else key(rule)

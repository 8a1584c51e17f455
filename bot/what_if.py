"""What the rules say as of a date, nothing saved: the what-if check the digest needs.

`what_if_check` evaluates every rule as `bot.service.evaluation.check_rules(persist=False)`
does (each rule primed on its history just before its last bar on or before the date, then
evaluated), with the same two steps (`frame_or_none`, `starting_state`, which the service
imports from here). It lives below both so that delivery never imports the service.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from bot.market import expected_last_session, load_market
from signals.batch import in_frame_order
from signals.evaluate import evaluate_rule, last_bar, prime_state
from signals.frames import RuleFrame, rule_frame
from signals.legs import DataError
from signals.models import Evaluation, MarketData, RuleState
from signals.rules import Rule
from storage.db import Store


class RuleEvaluated(Protocol):
    """One rule's evaluation in a report (the service's `RuleCheck` is one too)."""

    @property
    def evaluation(self) -> Evaluation: ...


class ChecksReport(Protocol):
    """Every rule's evaluation (the service's `CheckReport` is one too)."""

    @property
    def checks(self) -> Sequence[RuleEvaluated]: ...


@dataclass(frozen=True)
class WhatIf:
    """One rule and what it says as of the date."""

    rule: Rule
    evaluation: Evaluation


@dataclass(frozen=True)
class WhatIfReport:
    """Every rule's what-if evaluation, in the rules' order."""

    checks: tuple[WhatIf, ...]


def what_if_check(db: Store, rules: Sequence[Rule], *, as_of: date, now: datetime) -> WhatIfReport:
    """Every rule evaluated as of `as_of` (staleness against it when it is in the past)."""
    expected = min(expected_last_session(now), as_of)
    market = load_market(db, rules)
    found = evaluate_all(rules, market, {}, as_of, expected)
    return WhatIfReport(tuple(WhatIf(rule, found[at][0]) for at, rule in enumerate(rules)))


def evaluate_all(
    rules: Sequence[Rule],
    market: MarketData,
    states: Mapping[str, RuleState],
    as_of: date | None,
    expected: date | None,
    skip: Collection[str] = (),
    view: Callable[[Rule, RuleState | None, date | None], MarketData] | None = None,
) -> dict[int, tuple[Evaluation, bool]]:
    """Per rule position (rules in `skip` left out), its evaluation from its stored state or
    one primed on its history, and whether it was primed.

    Rules sharing a frame are evaluated in a row (`signals.batch.in_frame_order`): each
    frame, its priming per anti-flap options and its summary are computed once. `view`
    gives the market a rule is evaluated on (default: all of `market`).
    """
    found: dict[int, tuple[Evaluation, bool]] = {}
    for at in in_frame_order(rules):
        rule = rules[at]
        if rule.id in skip:
            continue
        stored = states.get(rule.id)
        on = view(rule, stored, as_of) if view else market
        built = frame_or_none(rule, on, as_of)
        state, primed = starting_state(rule, on, stored, as_of, built)
        evaluation = evaluate_rule(
            rule, on, state, as_of=as_of, expected_session=expected, built=built
        )
        found[at] = (evaluation, primed)
    return found


def frame_or_none(rule: Rule, market: MarketData, as_of: date | None) -> RuleFrame | None:
    """The rule's frame up to `as_of`, built once for priming and evaluating it (None when a
    leg is unknown: evaluation then says so without a frame)."""
    try:
        return rule_frame(rule, market, as_of)
    except DataError:
        return None


def starting_state(
    rule: Rule,
    market: MarketData,
    state: RuleState | None,
    as_of: date | None,
    built: RuleFrame | None = None,
) -> tuple[RuleState | None, bool]:
    """The stored state, or for a rule never evaluated one primed up to its last bar."""
    if state is not None and state.last_session is not None:
        return state, False
    try:
        last = last_bar(rule, market, as_of, built)
    except DataError:
        return state, False
    if last is None:
        return state, False
    # Priming reads all the data; the frame up to `as_of` serves only when there is no cut.
    whole = built if as_of is None else None
    return prime_state(rule, market, before=last, built=whole), True

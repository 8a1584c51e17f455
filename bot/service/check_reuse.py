"""A check reuses each rule's last evaluation while nothing it was computed from changed.

`check_rules` asks `reusable` for the rules whose stored evaluation still holds (same
definition, same data in every leaf, same sessions and expected session, and the state the
last check saved), skips building their frames, and hands the evaluations it did compute to
`remember`. Intraday rules are always computed: their provisional bar may change without a
new final bar and is evaluated at every check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date

from signals.check_inputs import rule_inputs
from signals.legs import split_expression
from signals.models import Evaluation, MarketData, RuleState
from signals.rules import Rule
from storage.db import Store
from storage.rule_checks import evaluation_from_json, load_checks, save_checks
from storage.rule_state import state_to_json


def reusable(
    db: Store,
    rules: Sequence[Rule],
    market: MarketData,
    prints: Mapping[str, str],
    states: Mapping[str, RuleState],
    expected: date | None,
) -> dict[str, Evaluation]:
    """The stored evaluations that a check of these rules, now, would compute again."""
    candidates = [rule for rule in rules if _cacheable(rule, states.get(rule.id))]
    stored = load_checks(db, [rule.id for rule in candidates])
    found = {}
    for rule in candidates:
        if rule.id in stored:
            inputs, text = stored[rule.id]
            if inputs == _inputs(rule, market, prints[rule.id], states[rule.id], expected):
                found[rule.id] = evaluation_from_json(text)
    return found


def remember(
    db: Store,
    rules: Sequence[Rule],
    market: MarketData,
    prints: Mapping[str, str],
    evaluations: Mapping[str, Evaluation],
    expected: date | None,
) -> None:
    """Store each computed evaluation under the key of the inputs its next check will have."""
    rows = {}
    for rule in rules:
        evaluation = evaluations.get(rule.id)
        if evaluation is not None and _cacheable(rule, evaluation.state):
            state = evaluation.state
            inputs = _inputs(rule, market, prints[rule.id], state, expected)
            rows[rule.id] = (inputs, replace(evaluation, events=()))
    if rows:
        save_checks(db, rows)


def _cacheable(rule: Rule, state: RuleState | None) -> bool:
    return not rule.intraday and state is not None and state.last_session is not None


def _inputs(
    rule: Rule, market: MarketData, fingerprint: str, state: RuleState, expected: date | None
) -> str:
    leaves = [leaf for leg in rule.legs() for leaf in split_expression(leg)]
    return rule_inputs(fingerprint, leaves, market, state, expected, state_to_json(state))

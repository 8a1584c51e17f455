"""A check reuses each rule's last evaluation while nothing it was computed from changed.

`check_rules` asks `reusable` for the rules whose stored evaluation still holds (same
definition, same data in every leaf, same sessions and expected session, and the state the
last check saved), skips building their frames, and hands the evaluations it did compute to
`remember`. Intraday rules are always computed: their provisional bar may change without a
new final bar and is evaluated at every check. A rule with no usable bar yet (nothing to
prime, NO DATA) is reused too, keyed on the state it starts from (usually none).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date

from signals.check_inputs import rule_inputs
from signals.legs import split_expression
from signals.models import Evaluation, MarketData, RuleState
from signals.rules import Rule
from storage.db import Store
from storage.rule_checks import evaluation_from_json, load_checks, save_checks

log = logging.getLogger(__name__)


def reusable(
    db: Store,
    rules: Sequence[Rule],
    market: MarketData,
    prints: Mapping[str, str],
    states: Mapping[str, RuleState],
    expected: date | None,
) -> dict[str, Evaluation]:
    """The stored evaluations that a check of these rules, now, would compute again."""
    candidates = [rule for rule in rules if not rule.intraday]
    stored = load_checks(db, [rule.id for rule in candidates])
    found = {}
    for rule in candidates:
        if rule.id in stored:
            inputs, text = stored[rule.id]
            if inputs == _inputs(rule, market, prints[rule.id], states.get(rule.id), expected):
                evaluation = _readable(rule.id, text)
                found.update({rule.id: evaluation} if evaluation is not None else {})
    return found


def _readable(rule_id: str, text: str) -> Evaluation | None:
    """The stored evaluation, or None (computed again) when its row cannot be read."""
    try:
        return evaluation_from_json(text)
    except (ValueError, KeyError, TypeError) as error:
        log.warning("stored evaluation of %s unreadable (%s): computing it again", rule_id, error)
        return None


def remember(
    db: Store,
    rules: Sequence[Rule],
    market: MarketData,
    prints: Mapping[str, str],
    evaluations: Mapping[str, Evaluation],
    expected: date | None,
    states: Mapping[str, RuleState],
) -> None:
    """Store each computed evaluation under the key of the inputs its next check will have.

    The next check starts from the state this one saved, or, for a rule this one did not
    step (no usable bar yet: nothing is saved), from the state this one started from.
    """
    rows = {}
    for rule in rules:
        evaluation = evaluations.get(rule.id)
        if evaluation is not None and not rule.intraday:
            stepped = evaluation.state.last_session is not None
            state = evaluation.state if stepped else states.get(rule.id)
            inputs = _inputs(rule, market, prints[rule.id], state, expected)
            rows[rule.id] = (inputs, replace(evaluation, events=()))
    if rows:
        save_checks(db, rows)


def _inputs(
    rule: Rule,
    market: MarketData,
    fingerprint: str,
    state: RuleState | None,
    expected: date | None,
) -> str:
    leaves = [leaf for leg in rule.legs() for leaf in split_expression(leg)]
    return rule_inputs(fingerprint, leaves, market, expected, repr(state))

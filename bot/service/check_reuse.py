"""A check reuses each rule's last evaluation while nothing it was computed from changed.

`check_rules` asks `reusable` for the rules whose stored evaluation still holds (same
definition, same data in every leaf, same sessions and expected session, and the state the
last check saved), skips building their frames, and hands the evaluations it did compute to
`remember`. Intraday rules are always computed: their provisional bar may change without a
new final bar and is evaluated at every check. A rule with no usable bar yet (nothing to
prime, NO DATA) is reused too, keyed on the state it starts from (usually none).

Before loading any price, `reusable_from_kept` decides what it can from the leaf digests the
last check kept at the current data version: with no new bar that is every rule, and the
check loads no market at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from functools import lru_cache, partial

import pandas as pd

from bot.market import loaded_version
from signals.check_inputs import (
    data_part,
    leaf_digest,
    market_sessions_digest,
    rule_inputs,
    sessions_digest,
)
from signals.legs import split_expression
from signals.models import Evaluation, MarketData, RuleState
from signals.rules import Rule
from storage.db import Store
from storage.rule_checks import (
    evaluation_from_json,
    load_checks,
    load_leaf_digests,
    save_checks,
    save_leaf_digests,
)
from storage.versioning import data_version

log = logging.getLogger(__name__)


def reusable_from_kept(
    db: Store,
    rules: Sequence[Rule],
    sessions: pd.DatetimeIndex | None,
    prints: Mapping[str, str],
    states: Mapping[str, RuleState],
    expected: date | None,
) -> dict[str, Evaluation]:
    """The stored evaluations still holding, decided from the digests kept at this data
    version without loading the market (none once any price or series row changed)."""
    kept = load_leaf_digests(db, data_version(db))
    known = [r for r in rules if not r.intraday and kept.keys() >= set(_leaves(r))]
    if not known:
        return {}
    keys = _Keys(kept.__getitem__, sessions_digest(sessions), expected)
    return _matching(db, known, keys, prints, states)


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
    keys = _Keys(partial(leaf_digest, market), market_sessions_digest(market), expected)
    return _matching(db, candidates, keys, prints, states)


def _matching(
    db: Store,
    rules: Sequence[Rule],
    keys: _Keys,
    prints: Mapping[str, str],
    states: Mapping[str, RuleState],
) -> dict[str, Evaluation]:
    """The stored evaluations (one query) whose key equals the rule's key now."""
    stored = load_checks(db, [rule.id for rule in rules])
    found = {}
    for rule in rules:
        if rule.id in stored:
            inputs, text = stored[rule.id]
            if inputs == keys.of(rule, prints[rule.id], states.get(rule.id)):
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
    """Store each computed evaluation under the key of the inputs its next check will have,
    and keep the digest of every leaf loaded (when the market knows its data version).

    The next check starts from the state this one saved, or, for a rule this one did not
    step (no usable bar yet: nothing is saved), from the state this one started from.
    """
    keys = _Keys(partial(leaf_digest, market), market_sessions_digest(market), expected)
    rows = {}
    for rule in rules:
        evaluation = evaluations.get(rule.id)
        if evaluation is not None and not rule.intraday:
            stepped = evaluation.state.last_session is not None
            state = evaluation.state if stepped else states.get(rule.id)
            inputs = keys.of(rule, prints[rule.id], state)
            kept = replace(evaluation, events=()) if evaluation.events else evaluation
            rows[rule.id] = (inputs, kept)
    if rows:
        save_checks(db, rows)
    _keep_digests(db, rules, market)


def _keep_digests(db: Store, rules: Sequence[Rule], market: MarketData) -> None:
    """The digests of the leaves these rules read, as loaded, for the next check to decide
    from without loading them (skipped when the version they were loaded at is unknown)."""
    version = loaded_version(market)
    leaves = {leaf for rule in rules for leaf in _leaves(rule)}
    if version is not None and leaves:
        save_leaf_digests(db, version, {leaf: leaf_digest(market, leaf) for leaf in leaves})


class _Keys:
    """Rule keys, sharing the data part among rules reading the same leaves and each state's
    text among rules whose states are equal."""

    def __init__(self, digest: Callable[[str], str], sessions: str, expected: date | None) -> None:
        self._digest, self._sessions, self._expected = digest, sessions, expected
        self._parts: dict[tuple[str, ...], str] = {}
        self._texts: dict[RuleState | None, str] = {}

    def of(self, rule: Rule, fingerprint: str, state: RuleState | None) -> str:
        leaves = _leaves(rule)
        part = self._parts.get(leaves)
        if part is None:
            part = data_part(leaves, self._digest, self._sessions, self._expected)
            self._parts[leaves] = part
        return rule_inputs(fingerprint, part, self._state_text(state))

    def _state_text(self, state: RuleState | None) -> str:
        # Keyed on the state's value (frozen, hashable): 10,000 loaded or stepped states are
        # a few hundred distinct values, and hashing one is cheaper than its repr.
        known = self._texts.get(state)
        if known is None:
            known = self._texts[state] = repr(state)
        return known


def _leaves(rule: Rule) -> tuple[str, ...]:
    """The symbols and series a rule reads, sorted, without repeats."""
    return _leaves_of(rule.legs())


@lru_cache(maxsize=65536)
def _leaves_of(legs: tuple[str, ...]) -> tuple[str, ...]:
    """Once per set of legs: 10,000 rules read a few hundred."""
    return tuple(sorted({leaf for leg in legs for leaf in split_expression(leg)}))

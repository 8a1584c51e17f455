"""A check steps each rule's quiet new bars from per-leg aggregates, before building frames.

`quiet_steps` is asked by `check_rules` before the frames are built: every rule with a
stored state whose new bars are quiet (no transition, no hole, nothing waiting: see
`signals.bar_step`) gets its evaluation there, without a frame, the rules sharing a measure
stepped together (`signals.bar_groups`); the others are evaluated on
their frame as before. The engine is imported only when a rule is computed (a check whose
every rule is reused spares it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from bot.service.tail_step import tail_start
from signals.models import Evaluation, MarketData, RuleState
from signals.rules import ExtremeSince, Rule


def quiet_steps(
    rules: Sequence[Rule],
    market: MarketData,
    states: Mapping[str, RuleState],
    as_of: date | None,
    expected: date | None,
) -> dict[str, Evaluation]:
    """The evaluations of the stepped rules whose new bars are quiet, by rule id.

    Only a check of everything stored (`as_of` None) steps this way: a check as of a past
    date reads a cut market, which the frames handle.
    """
    if as_of is not None:
        return {}
    from signals.bar_groups import step_groups

    return step_groups(rules, market, states, expected, reach)


def reach(rule: Rule, state: RuleState) -> date | None:
    """A day no new bar of the rule reads before (None: the whole history): a hole ending
    before it cannot touch them. A window kind's tail start; an extreme's own window."""
    if isinstance(rule, ExtremeSince):
        if rule.since is not None:
            return rule.since
        assert rule.years is not None and state.last_session is not None
        return state.last_session - timedelta(days=round(rule.years * 365.25) + 1)
    return tail_start(rule, state)

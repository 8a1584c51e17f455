"""Collapse the same "rule not evaluated" line, session after session, into a count.

A rule without P/E history is NO DATA every session: logging its reason in full each time wrote
the same line 60 times in a quarter's replay and buried what changed. `RepeatedProblems` says a
rule's reason when it is new or different, and counts the sessions it stayed the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RepeatedProblems:
    """Per rule id: the last reason logged and the sessions in a row it has held."""

    _reasons: dict[str, str] = field(default_factory=dict)
    _sessions: dict[str, int] = field(default_factory=dict)

    def update(self, problems: dict[str, str]) -> tuple[dict[str, str], dict[str, int]]:
        """Record this session's problems (rule id -> reason): the new or changed ones, and
        for the unchanged ones how many sessions in a row they have held (this one included)."""
        changed = {rule: why for rule, why in problems.items() if self._reasons.get(rule) != why}
        self._sessions = {
            rule: 1 if rule in changed else self._sessions.get(rule, 1) + 1 for rule in problems
        }
        self._reasons = dict(problems)
        unchanged = {rule: self._sessions[rule] for rule in problems if rule not in changed}
        return changed, unchanged


def describe(changed: dict[str, str], unchanged: dict[str, int]) -> str:
    """`a NO DATA: why; b STALE: why; 1 more unchanged (c for 59 sessions)`."""
    parts = [f"{rule} {why}" for rule, why in changed.items()]
    if unchanged:
        held = ", ".join(f"{rule} for {count} sessions" for rule, count in unchanged.items())
        parts.append(f"{len(unchanged)} more unchanged ({held})")
    return "; ".join(parts)

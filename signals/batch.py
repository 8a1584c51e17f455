"""A whole rule set evaluated per distinct measure: what rules with one frame share.

Thousands of rules read far fewer distinct measures: rules that differ only in what they do
with their measure (`confirm`, `hysteresis`, `cooldown`, `trigger`, `emit_reversed`) or in
words and delivery read one frame. `frame_key` names that frame; `in_frame_order` puts the
rules that share one next to each other, so `signals.frames.rule_frame` (which keeps the
last frame it built, one per market and date checked) builds each once and memory holds one
frame at a time, however many rules there are. What is derived from a frame alone (its
usable bars, the primed state per anti-flap options, the summary line, staleness) is kept
on the frame (`derived`), so the rules sharing it share that too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from functools import cache
from typing import Protocol, TypeVar

from signals.rules import PairRule, Rule

T = TypeVar("T")

# What a rule does with its measure, or says and where: never part of the measure itself.
NOT_MEASURE = frozenset(
    {
        "id", "name", "description", "enabled", "severity", "tags", "confirm", "hysteresis",
        "cooldown", "trigger", "emit_reversed", "renotify_minutes", "destinations",
    }
)  # fmt: skip


def frame_key(rule: Rule) -> tuple[object, ...]:
    """What the rule's frame depends on: its type and every field but `NOT_MEASURE`.

    Kept on the rule once computed (a frozen rule's fields never change), as its fingerprint.
    """
    kept = rule.__dict__.get("_frame_key")
    if kept is None:
        measure = [getattr(rule, name) for name in _measure_fields(type(rule))]
        kept = (type(rule), *measure)
        if not _hashes(kept):
            kept = (type(rule), repr(kept))  # an unhashable field: equal text, equal frame
        object.__setattr__(rule, "_frame_key", kept)
    return kept  # type: ignore[no-any-return]


@cache
def _measure_fields(kind: type) -> tuple[str, ...]:
    """The names of a rule type's fields its frame depends on, in declaration order."""
    return tuple(f.name for f in fields(kind) if f.name not in NOT_MEASURE)


def _hashes(key: tuple[object, ...]) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True


def measure_key(rule: Rule) -> tuple[object, ...]:
    """What frames share beyond the rule's own threshold: a pair rule's two legs' window
    returns and their spread (`signals.frames` keeps the last pair's); else its frame."""
    if isinstance(rule, PairRule):
        return (PairRule, rule.a, rule.b, rule.window, rule.basis, rule.intraday)
    return frame_key(rule)


def in_frame_order(rules: Sequence[Rule]) -> list[int]:
    """The rules' positions, those sharing a frame next to each other, and frames sharing a
    measure next to each other (groups in order of first appearance, the rules' order kept
    within a group)."""
    groups: dict[tuple[object, ...], dict[tuple[object, ...], list[int]]] = {}
    for at, rule in enumerate(rules):
        frames = groups.setdefault(measure_key(rule), {})
        frames.setdefault(frame_key(rule), []).append(at)
    return [at for frames in groups.values() for group in frames.values() for at in group]


class HasDerived(Protocol):
    """A frame that keeps what is derived from it (`signals.frames.RuleFrame`)."""

    @property
    def derived(self) -> dict[tuple[object, ...], object]: ...


def derived(built: HasDerived, key: tuple[object, ...], compute: Callable[[], T]) -> T:
    """`compute()` once per frame and key: every rule sharing the frame gets that result.

    Results are never mutated by their readers (states and arrays are read only).
    """
    store = built.derived
    if key not in store:
        store[key] = compute()
    return store[key]  # type: ignore[return-value]

"""Priming by episode search: the state a one-sided rule reaches, found without stepping.

A one-sided rule with the `episode` or `once` trigger lives in two phases. Not firing, it
fires on the first bar where its condition has held `confirm` bars in a row and its cooldown
has run out (`cooldown` bars after the last firing); firing, it re-arms on the first bar
beyond the hysteresis band. Both are searches in sorted position arrays, so priming decades
of history costs a few searches per episode instead of a Python step per bar. The result
is exactly `run_steps`'s final state (checked by a property test); bars without a measure
(NaN, which `step` skips without touching streaks or cooldown) and rules this does not
cover (two-sided, `once_per_bar`) return None for the caller to step.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np

from signals.models import RuleState, SideState


def run_lengths(on: np.ndarray) -> np.ndarray:
    """Per bar, how many bars in a row up to and including it the condition has held."""
    positions = np.arange(len(on))
    last_off = np.maximum.accumulate(np.where(on, -1, positions))
    return np.where(on, positions - last_off, 0)


def settle_one_sided(
    values: np.ndarray,
    days: Sequence[date],
    confirm: int,
    cooldown: int,
    once: bool,
    masks: tuple[np.ndarray, np.ndarray],
) -> RuleState | None:
    """The state after every bar of a one-sided rule, or None when NaN bars need stepping.

    `masks` are (on, clear) per bar: the side's condition holds, and it is beyond the band.
    """
    if np.isnan(values).any():
        return None
    on, clear = masks
    runs = run_lengths(on)
    ready, clears = np.flatnonzero(runs >= confirm), np.flatnonzero(clear)
    count = len(values)
    position, fired, last_fire, firing = 0, 0, -1, False
    while position < count:
        if firing:
            position = _first_at(clears, position, count)
            firing = position >= count
        else:
            if once and fired:
                break
            earliest = position if not fired else max(position, last_fire + cooldown + 1)
            position = _first_at(ready, earliest, count)
            if position < count:
                fired, last_fire, firing = fired + 1, position, True
        position += 1
    episode = days[last_fire].isoformat() if fired else None
    return RuleState(
        up=_side(firing, episode, int(runs[-1]) if count else 0),
        cooldown=max(0, cooldown - (count - 1 - last_fire)) if fired else 0,
        fired=fired,
        last_session=days[-1] if count else None,
    )


def _first_at(positions: np.ndarray, start: int, count: int) -> int:
    """The first of the sorted `positions` at or after `start` (`count` when none is)."""
    found = int(positions.searchsorted(start))
    return int(positions[found]) if found < len(positions) else count


def _side(firing: bool, episode: str | None, streak: int) -> SideState:
    if firing:
        return SideState(phase="firing", streak=0, episode=episode)
    if streak:
        return SideState(phase="pending", streak=streak, episode=episode)
    return SideState(episode=episode)

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

from bisect import bisect_left
from collections.abc import Sequence
from datetime import date

import numpy as np

from signals.models import RuleState, SideState


def run_lengths(on: np.ndarray) -> np.ndarray:
    """Per bar, how many bars in a row up to and including it the condition has held."""
    positions = np.arange(len(on))
    last_off = np.maximum.accumulate(np.where(on, -1, positions))
    return np.where(on, positions - last_off, 0)


class SideBars:
    """One side's conditions per bar, (on, clear), and what the searches derive from them,
    each computed once: rules sharing a frame and a threshold side share these."""

    def __init__(self, on: np.ndarray, clear: np.ndarray, runs: np.ndarray | None = None) -> None:
        self.on, self.clear = on, clear
        self._runs = runs
        self._ready: dict[int, np.ndarray] = {}
        self._clears: np.ndarray | None = None

    @classmethod
    def of(cls, masks: Masks) -> SideBars:
        return masks if isinstance(masks, SideBars) else cls(*masks)

    @property
    def runs(self) -> np.ndarray:
        """`run_lengths(on)` (given when another band shares the condition)."""
        if self._runs is None:
            self._runs = run_lengths(self.on)
        return self._runs

    def ready(self, confirm: int) -> np.ndarray:
        """The positions where the condition has held `confirm` bars in a row."""
        if confirm not in self._ready:
            # Held one bar in a row is held: no run lengths needed (most rules confirm 1).
            held = self.on if confirm <= 1 else self.runs >= confirm
            self._ready[confirm] = np.flatnonzero(held)
        return self._ready[confirm]

    @property
    def streak(self) -> int:
        """How many bars in a row, up to the last, the condition has held (`runs[-1]`)."""
        if self._runs is not None:
            return int(self._runs[-1]) if len(self._runs) else 0
        if not len(self.on) or self.on.all():
            return len(self.on)
        return int(np.argmin(self.on[::-1]))  # the first bar from the end that does not hold

    @property
    def clears(self) -> np.ndarray:
        """The positions beyond the band."""
        if self._clears is None:
            self._clears = np.flatnonzero(self.clear)
        return self._clears


# A side's (on, clear) masks, or the same with what is derived from them kept.
Masks = tuple[np.ndarray, np.ndarray] | SideBars


def settle_one_sided(
    values: np.ndarray,
    days: Sequence[date],
    confirm: int,
    cooldown: int,
    once: bool,
    masks: Masks,
) -> RuleState | None:
    """The state after every bar of a one-sided rule, or None when NaN bars need stepping.

    `masks` are (on, clear) per bar: the side's condition holds, and it is beyond the band.
    """
    if np.isnan(values).any():
        return None
    side, fired, last_fire = settle_side(masks, confirm, cooldown, once)
    count = len(values)
    return RuleState(
        up=_with_episode(side, days, last_fire),
        cooldown=max(0, cooldown - (count - 1 - last_fire)) if fired else 0,
        fired=fired,
        last_session=days[-1] if count else None,
    )


def settle_side(
    masks: Masks, confirm: int, cooldown: int, once: bool
) -> tuple[SideState, int, int]:
    """One side after every bar: its state (episode label left to the caller), how many times
    it fired, and the position it last fired on (-1 if never)."""
    side = SideBars.of(masks)
    count = len(side.on)
    ready, clears = side.ready(confirm), side.clears
    if cooldown == 0 and not once:
        fired, last_fire, firing = _alternations(ready, clears)
    else:
        fired, last_fire, firing = _searched(ready, clears, count, cooldown, once)
    return _side(firing, None, side.streak), fired, last_fire


def _alternations(ready: np.ndarray, clears: np.ndarray) -> tuple[int, int, bool]:
    """Without cooldown or `once`, a side fires on every ready bar whose previous ready-or-
    clear bar is not a ready one (it was re-armed, or it is the first), all at once.

    Ready and clear bars are never the same bar (one holds the condition, the other not), so
    a ready bar fires when a clear bar lies between it and the ready bar before it.
    """
    if not len(ready):
        return 0, -1, False
    clears_before = clears.searchsorted(ready)
    fires = np.empty(len(ready), dtype=bool)
    fires[0] = True
    np.not_equal(clears_before[1:], clears_before[:-1], out=fires[1:])
    firing = bool(clears_before[-1] == len(clears))  # no clear bar after the last ready one
    return int(fires.sum()), int(ready[fires][-1]), firing


def _searched(
    ready: np.ndarray, clears: np.ndarray, count: int, cooldown: int, once: bool
) -> tuple[int, int, bool]:
    """Firing and re-arming found one search at a time (a cooldown or `once` in the way)."""
    # Python lists and bisect: a search per episode, far cheaper than a numpy call each.
    ready_at, clear_at = ready.tolist(), clears.tolist()
    position, fired, last_fire, firing = 0, 0, -1, False
    while position < count:
        if firing:
            position = _first_in(clear_at, position, count)
            firing = position >= count
        else:
            if once and fired:
                break
            earliest = position if not fired else max(position, last_fire + cooldown + 1)
            position = _first_in(ready_at, earliest, count)
            if position < count:
                fired, last_fire, firing = fired + 1, position, True
        position += 1
    return fired, last_fire, firing


def _first_in(positions: list[int], start: int, count: int) -> int:
    """`_first_at` in a sorted list."""
    found = bisect_left(positions, start)
    return positions[found] if found < len(positions) else count


def _with_episode(side: SideState, days: Sequence[date], last_fire: int) -> SideState:
    episode = days[last_fire].isoformat() if last_fire >= 0 else None
    return SideState(phase=side.phase, streak=side.streak, episode=episode)


def settle_two_sided(
    values: np.ndarray,
    days: Sequence[date],
    confirm: int,
    up: Masks,
    down: Masks,
) -> RuleState | None:
    """Both sides of a two-sided rule without cooldown or `once` (and not inclusive, so
    the sides never hold on the same bar): then they never interact, and each is searched
    alone. None when NaN bars need stepping."""
    if np.isnan(values).any():
        return None
    up_side, up_fired, up_last = settle_side(up, confirm, 0, False)
    down_side, down_fired, down_last = settle_side(down, confirm, 0, False)
    return RuleState(
        up=_with_episode(up_side, days, up_last),
        down=_with_episode(down_side, days, down_last),
        fired=up_fired + down_fired,
        last_session=days[-1] if len(values) else None,
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


def settle_interacting(
    values: np.ndarray,
    days: Sequence[date],
    confirm: int,
    cooldown: int,
    once: bool,
    sides: tuple[Masks, Masks],
) -> RuleState:
    """Both sides of a two-sided `episode`/`once` rule whose sides interact (a cooldown after
    either side fires holds both back, `once` counts both, an inclusive threshold has both
    hold at 0 and the up side wins the bar): the next event of either side, one search at a
    time. NaN bars must be left out by the caller."""
    both = [SideBars.of(masks) for masks in sides]
    ready = [side.ready(confirm) for side in both]
    clears = [side.clears for side in both]
    count = len(values)
    walk = _Walk(count, cooldown, once)
    while True:
        nexts = [walk.next_event(side, ready[side], clears[side]) for side in (0, 1)]
        side = 0 if nexts[0] <= nexts[1] else 1  # one bar: the up side steps first
        if nexts[side] >= count:
            break
        walk.apply(side, nexts[side])
    built = [
        _with_episode(_side(walk.firing[side], None, both[side].streak), days, walk.last[side])
        for side in (0, 1)
    ]  # fmt: skip
    last_fire = max(walk.last)
    return RuleState(
        up=built[0],
        down=built[1],
        cooldown=max(0, cooldown - (count - 1 - last_fire)) if walk.fired else 0,
        fired=walk.fired,
        last_session=days[-1] if count else None,
    )


class _Walk:
    """Where each side of `settle_interacting` stands between its events."""

    def __init__(self, count: int, cooldown: int, once: bool) -> None:
        self.count, self.cooldown, self.once = count, cooldown, once
        self.firing = [False, False]
        self.last = [-1, -1]  # the position each side last fired on
        self.seen = [0, 0]  # each side's next bar not yet looked at
        self.fired = 0

    def next_event(self, side: int, ready: np.ndarray, clears: np.ndarray) -> int:
        """The position of the side's next firing or re-arming (`count` when none is)."""
        start = self.seen[side]
        if self.firing[side]:
            return _first_at(clears, start, self.count)
        if self.once and self.fired:
            return self.count
        if self.fired:
            start = max(start, max(self.last) + self.cooldown + 1)
        return _first_at(ready, start, self.count)

    def apply(self, side: int, position: int) -> None:
        if self.firing[side]:
            self.firing[side] = False
        else:
            self.firing[side], self.last[side] = True, position
            self.fired += 1
        self.seen[side] = position + 1

"""The anti-flap state machine: a pure step from (state, one bar's measure) to (state, events).

A rule turns its measure into a signed distance `x` from firing: side "up" holds when x > 0
(x >= 0 when the threshold is inclusive), side "down" (two-sided rules only) when x < 0.
A side goes inactive → pending → firing once its condition has held `confirm` bars in a row,
and stays firing until x is back beyond the hysteresis band (x <= -hysteresis for "up"),
which emits a `reversed` transition and re-arms it. So a crossover that wobbles around zero
by less than the band alerts once, not daily. `cooldown` bars must pass after a firing
before the next; trigger `once` fires a single episode ever, `once_per_bar` every bar the
condition holds. The live check and the backtest both call `step`, bar by bar.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal, NamedTuple

import numpy as np

from signals.episodes import settle_interacting, settle_one_sided, settle_two_sided
from signals.models import RuleState, SideState

Trigger = Literal["episode", "once", "once_per_bar"]
SideName = Literal["up", "down"]
_INACTIVE = SideState()


@dataclass(frozen=True)
class MachineOptions:
    """The anti-flap options of one rule, as the state machine needs them."""

    confirm: int = 1
    hysteresis: float = 0.0
    cooldown: int = 0
    trigger: Trigger = "episode"
    inclusive: bool = False  # x == 0 counts as the condition holding (a threshold "at least")
    two_sided: bool = False  # side "down" is armed too (crossovers in either direction)


class Transition(NamedTuple):
    """A side fired or reversed on bar `day`; `episode` is the ISO date it fired."""

    kind: Literal["fired", "reversed"]
    side: SideName
    day: date
    episode: str


def step(
    state: RuleState, x: float, day: date, options: MachineOptions
) -> tuple[RuleState, list[Transition]]:
    """Advance `state` by one final bar whose signed distance from firing is `x`."""
    if math.isnan(x) or _is_idle(state, x, options):
        return state, []
    can_fire = state.cooldown == 0 and not (options.trigger == "once" and state.fired > 0)
    transitions: list[Transition] = []
    up, fired_up = _step_side(state.up, x, day, options, can_fire, "up", transitions)
    down, fired_down = state.down, False
    if options.two_sided:
        can_down = can_fire and not fired_up
        down, fired_down = _step_side(state.down, -x, day, options, can_down, "down", transitions)
    fired = fired_up or fired_down
    cooldown = options.cooldown if fired else max(0, state.cooldown - 1)
    new = RuleState(
        up=up,
        down=down,
        cooldown=cooldown,
        fired=state.fired + int(fired),
        last_session=state.last_session,
    )
    return new, transitions


def _is_idle(state: RuleState, x: float, options: MachineOptions) -> bool:
    """Fast path: nothing pending or firing, no cooldown, and no side's condition holds."""
    if state.cooldown or state.up.phase != "inactive" or state.down.phase != "inactive":
        return False
    if state.up.streak or state.down.streak:
        return False
    if options.inclusive:
        return x < 0 and not (options.two_sided and x <= 0)
    return x <= 0 and not (options.two_sided and x < 0)


def _holds(sx: float, options: MachineOptions) -> bool:
    return sx >= 0 if options.inclusive else sx > 0


def _step_side(
    side: SideState,
    sx: float,
    day: date,
    options: MachineOptions,
    can_fire: bool,
    name: SideName,
    out: list[Transition],
) -> tuple[SideState, bool]:
    """One side's transition; appends what happened to `out`, returns (state, fired)."""
    on = _holds(sx, options)
    if side.phase == "firing":
        if not on and sx <= -options.hysteresis:
            assert side.episode is not None
            out.append(Transition("reversed", name, day, side.episode))
            return SideState(episode=side.episode), False
        if options.trigger == "once_per_bar" and on and can_fire:
            return _fire(day, name, out), True
        return side, False
    if not on:
        return (side if side.phase == "inactive" else SideState(episode=side.episode)), False
    streak = side.streak + 1
    if streak >= options.confirm and can_fire:
        return _fire(day, name, out), True
    return SideState(phase="pending", streak=streak, episode=side.episode), False


def _fire(day: date, name: SideName, out: list[Transition]) -> SideState:
    episode = day.isoformat()
    out.append(Transition("fired", name, day, episode))
    return SideState(phase="firing", streak=0, episode=episode)


def run_steps(
    state: RuleState, xs: Sequence[float], days: Sequence[date], options: MachineOptions
) -> tuple[RuleState, list[Transition]]:
    """Step through many bars in order (the backtest and the live catch-up share this).

    Equivalent to calling `step` on every bar; bars on which `step` provably changes nothing
    (a quiet state whose wake-up condition does not hold) are skipped with a vectorised search.
    """
    if len(xs) == 1:  # a check's one new bar: no search to set up
        state, happened = step(state, float(xs[0]), days[0], options)
        return replace(state, last_session=days[0]), happened
    values = np.asarray(xs, dtype=np.float64)
    wakes = _Wakes(values, options)
    transitions: list[Transition] = []
    position, count = 0, len(values)
    while position < count:
        if _is_quiet(state, options):
            position = wakes.next(position, _wake_key(state, options))
            if position >= count:
                break
        state, happened = step(state, float(values[position]), days[position], options)
        transitions.extend(happened)
        position += 1
    if len(days):
        state = replace(state, last_session=days[-1])
    return state, transitions


def settle(xs: Sequence[float], days: Sequence[date], options: MachineOptions) -> RuleState:
    """The state `run_steps` reaches from a fresh state over these bars (no transitions kept).

    Priming thousands of rules is mostly this, so it searches instead of stepping
    (`signals.episodes`): a side fires on the first bar its condition has held `confirm`
    bars with the cooldown run out and re-arms on the next bar beyond the band. A bar
    without a measure changes nothing (`step` skips it), so such bars are left out of the
    search; the state still ends on the last bar. Only `once_per_bar` rules are stepped.
    """
    values = np.asarray(xs, dtype=np.float64)
    if options.trigger == "once_per_bar":
        return run_steps(RuleState(), xs, days, options)[0]
    measured = ~np.isnan(values)
    if not measured.all():
        kept = np.flatnonzero(measured)
        state = _searched(values[kept], Picked(days, kept), options)
        return replace(state, last_session=days[-1]) if len(days) else state
    return _searched(values, days, options)


def _searched(values: np.ndarray, days: Sequence[date], options: MachineOptions) -> RuleState:
    """`settle` of bars that all have a measure, by episode search."""
    masks = _Wakes(values, options).masks()
    once = options.trigger == "once"
    if not options.two_sided:
        found = settle_one_sided(values, days, options.confirm, options.cooldown, once, masks[0])
        assert found is not None  # no NaN here
        return found
    if options.cooldown == 0 and not once and not options.inclusive:
        found = settle_two_sided(values, days, options.confirm, *masks)
        assert found is not None
        return found
    return settle_interacting(values, days, options.confirm, options.cooldown, once, masks)


class Picked(Sequence[date]):
    """Some of a sequence's days, by position, read only where asked (the search reads few)."""

    def __init__(self, days: Sequence[date], positions: np.ndarray) -> None:
        self._days, self._positions = days, positions

    def __len__(self) -> int:
        return len(self._positions)

    def __getitem__(self, index: int) -> date:  # type: ignore[override]
        return self._days[int(self._positions[index])]


def _is_quiet(state: RuleState, options: MachineOptions) -> bool:
    """No cooldown, nothing pending, so only a wake-up condition can change the state."""
    if state.cooldown or state.up.streak or state.down.streak:
        return False
    phases = (state.up.phase, state.down.phase)
    if "pending" in phases:
        return False
    return not (options.trigger == "once_per_bar" and "firing" in phases)


def _wake_key(state: RuleState, options: MachineOptions) -> tuple[str, str]:
    """Which condition wakes each side: `clear` for a firing side, `on` for an inactive one."""
    up = "clear" if state.up.phase == "firing" else "on"
    if not options.two_sided:
        return up, "none"
    return up, "clear" if state.down.phase == "firing" else "on"


class _Wakes:
    """Per wake key, the sorted bar positions where that condition holds (computed lazily)."""

    def __init__(self, values: np.ndarray, options: MachineOptions) -> None:
        with np.errstate(invalid="ignore"):
            up = values >= 0 if options.inclusive else values > 0
            down = -values >= 0 if options.inclusive else -values > 0
            self._masks = {
                ("up", "on"): up,
                ("up", "clear"): ~up & (values <= -options.hysteresis),
                ("down", "on"): down,
                ("down", "clear"): ~down & (-values <= -options.hysteresis),
            }
        self._cache: dict[tuple[str, str], np.ndarray] = {}

    def masks(self) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """Per side (up, down), where its condition holds and where it is beyond the band."""
        sides = ("up", "down")
        return tuple((self._masks[(side, "on")], self._masks[(side, "clear")]) for side in sides)  # type: ignore[return-value]

    def next(self, position: int, key: tuple[str, str]) -> int:
        """The first position at or after `position` where the key's condition holds."""
        if key not in self._cache:
            mask = self._masks[("up", key[0])]
            if key[1] != "none":
                mask = mask | self._masks[("down", key[1])]
            self._cache[key] = np.flatnonzero(mask)
        positions = self._cache[key]
        found = int(positions.searchsorted(position))  # the method: no dispatch per call
        return int(positions[found]) if found < len(positions) else len(self._masks[("up", "on")])


def unsettled_days(
    xs: Sequence[float], days: Sequence[date], options: MachineOptions
) -> list[date]:
    """The bars, from the first after a hole, until the state no longer depends on the hole.

    What the rule did during the hole is unknown, so it is stepped from every state it could
    have been in (inactive, pending, firing on either side, any cooldown); once all of them
    agree, the state is the one complete data would give, and events are true again.
    """
    states = _candidate_states(options)
    unsettled: list[date] = []
    for x, day in zip(xs, days, strict=True):
        stepped = (step(state, float(x), day, options)[0] for state in states)
        # States of one shape step alike: keep one of each, so the set shrinks as they merge.
        states = list({_shape(state, options): state for state in stepped}.values())
        unsettled.append(day)
        if len(states) == 1:
            break
    return unsettled


def _candidate_states(options: MachineOptions) -> list[RuleState]:
    """Every state the rule could be in (episode labels aside): sides, streaks, cooldowns."""
    pendings = [SideState(phase="pending", streak=n) for n in range(1, options.confirm)]
    sides = [_INACTIVE, *pendings, SideState(phase="firing", episode="?")]
    downs = sides if options.two_sided else [_INACTIVE]
    return [
        RuleState(up=up, down=down, cooldown=cooldown, fired=fired)
        for up in sides
        for down in downs
        for cooldown in range(options.cooldown + 1)
        for fired in {0, int(options.trigger == "once")}
        if not (up.phase == "firing" and down.phase == "firing")
    ]


def _shape(state: RuleState, options: MachineOptions) -> tuple[object, ...]:
    """What decides the state's future (episode labels and counts aside)."""
    done = options.trigger == "once" and state.fired > 0
    return (state.up.phase, state.up.streak, state.down.phase, state.down.streak,
            state.cooldown, done)  # fmt: skip

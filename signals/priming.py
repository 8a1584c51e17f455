"""Priming the rules that share one frame: their bars, and what their searches share, once.

A first check primes every rule on its frame's final bars before its last one. Rules sharing
a frame differ only in their anti-flap options, and the episode searches of `signals.state`
(`settle`) mostly build the same arrays for each: the bars with a measure, each side's
condition (per threshold semantics), the positions beyond the band (per hysteresis), the
run lengths and the positions ready to fire (per `confirm`; `confirm = 1` needs no runs).
`PrimingBars` builds each of them once and settles any options on them, giving exactly
`settle`'s state (a property test compares them with `run_steps`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

import numpy as np

from signals.episodes import SideBars, settle_interacting, settle_one_sided, settle_two_sided
from signals.models import RuleState
from signals.state import MachineOptions, Picked, run_steps


class PrimingBars:
    """The bars one frame's rules are primed on; `settle` them with any rule's options."""

    def __init__(self, xs: Sequence[float], days: Sequence[date]) -> None:
        self._xs, self._days = xs, days
        values = np.asarray(xs, dtype=np.float64)
        measured = ~np.isnan(values)
        # A bar without a measure changes nothing (`step` skips it): searches leave it out.
        self._all_measured = bool(measured.all())
        kept = np.flatnonzero(measured)
        self._values = values if self._all_measured else values[kept]
        self._searched_days = days if self._all_measured else Picked(days, kept)
        self._on: dict[tuple[str, bool], np.ndarray] = {}
        self._sides: dict[tuple[str, bool, float], SideBars] = {}

    def settle(self, options: MachineOptions) -> RuleState:
        """The state `run_steps` reaches from a fresh state over these bars."""
        if options.trigger == "once_per_bar":
            return run_steps(RuleState(), self._xs, self._days, options)[0]
        state = self._searched(options)
        if self._all_measured or not len(self._days):
            return state
        return replace(state, last_session=self._days[-1])

    def _searched(self, options: MachineOptions) -> RuleState:
        values, days = self._values, self._searched_days
        up = self._side("up", options)
        once = options.trigger == "once"
        if not options.two_sided:
            found = settle_one_sided(values, days, options.confirm, options.cooldown, once, up)
            assert found is not None  # no NaN here
            return found
        down = self._side("down", options)
        if options.cooldown == 0 and not once and not options.inclusive:
            found = settle_two_sided(values, days, options.confirm, up, down)
            assert found is not None
            return found
        sides = (up, down)
        return settle_interacting(values, days, options.confirm, options.cooldown, once, sides)

    def _side(self, name: str, options: MachineOptions) -> SideBars:
        """A side's conditions as `signals.state`'s searches build them, once per threshold
        semantics and band."""
        key = (name, options.inclusive, options.hysteresis)
        if key not in self._sides:
            on = self._holds(name, options.inclusive)
            signed = self._values if name == "up" else -self._values
            with np.errstate(invalid="ignore"):
                clear = ~on & (signed <= -options.hysteresis)
            self._sides[key] = SideBars(on, clear)
        return self._sides[key]

    def _holds(self, name: str, inclusive: bool) -> np.ndarray:
        key = (name, inclusive)
        if key not in self._on:
            signed = self._values if name == "up" else -self._values
            with np.errstate(invalid="ignore"):
                self._on[key] = signed >= 0 if inclusive else signed > 0
        return self._on[key]

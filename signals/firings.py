"""The days a rule fired in its history, found without building events: what a record reads.

A backtest (`signals.evaluate.backtest_rule`) steps the rule bar by bar and builds a full
`Event` (titles, text, chart row) for every transition; a track record reads only the day
each episode fired. Here the firing bars are searched in sorted position arrays, as priming
does (`signals.episodes`): a one-sided rule fires on the first bar its condition has held
`confirm` bars with the cooldown run out, and re-arms on the first bar beyond the band; a
two-sided rule whose sides never interact (no cooldown, no `once`, not inclusive) is two
one-sided searches. The rest (`once_per_bar`, interacting sides) is stepped by `run_steps`,
events still unbuilt. Firings in bars a hole left unsettled are dropped as the backtest
drops them. The result is the backtest's fired days exactly (checked by a property test).
"""

from __future__ import annotations

from datetime import date

import numpy as np

from signals.episodes import run_lengths
from signals.evaluate import BarDays, machine_options, unsettled_after_holes
from signals.frames import RuleFrame
from signals.models import RuleState
from signals.rules import Rule
from signals.state import MachineOptions, run_steps

Masks = tuple[np.ndarray, np.ndarray]  # per bar: the side's condition holds; beyond the band


def fired_days(rule: Rule, built: RuleFrame) -> tuple[date, ...]:
    """The day each episode of `rule` fired on the final bars of `built`, oldest first: the
    fired events of `backtest_rule` on the same frame, without building them."""
    frame = built.frame
    keep = frame["x"].notna().to_numpy() & frame["final"].to_numpy(dtype=bool)
    xs = frame["x"].to_numpy(dtype=np.float64)[keep]
    stamps = frame.index.to_numpy()[keep]
    days = firing_days(xs, stamps, machine_options(rule))
    if days and "after_hole" in frame and frame["after_hole"].any():
        quiet = set(unsettled_after_holes(rule, built))
        days = [day for day in days if day not in quiet]
    # An episode is named by the day it fired: one date per episode.
    return tuple(sorted(set(days)))


def firing_days(xs: np.ndarray, stamps: np.ndarray, options: MachineOptions) -> list[date]:
    """The days a fresh state machine fires on over these bars (every one has a measure)."""
    positions = firing_positions(xs, options)
    if positions is None:
        _, transitions = run_steps(RuleState(), xs, BarDays(stamps), options)
        return [t.day for t in transitions if t.kind == "fired"]
    return list(stamps[positions].astype("datetime64[D]").tolist())


def firing_positions(xs: np.ndarray, options: MachineOptions) -> np.ndarray | None:
    """The bars a fresh state fires on, by search; None when the rule must be stepped."""
    if options.trigger == "once_per_bar":
        return None
    up, down = side_masks(xs, options)
    once = options.trigger == "once"
    if not options.two_sided:
        return side_firings(up, options.confirm, options.cooldown, once)
    if options.cooldown == 0 and not once and not options.inclusive:
        both = (side_firings(side, options.confirm, 0, False) for side in (up, down))
        return np.sort(np.concatenate(tuple(both)))
    return None  # the sides hold each other back: stepped


def side_masks(xs: np.ndarray, options: MachineOptions) -> tuple[Masks, Masks]:
    """Per side (up, down), where its condition holds and where it is beyond the band: the
    conditions `signals.state.step` tests."""
    up = xs >= 0 if options.inclusive else xs > 0
    down = -xs >= 0 if options.inclusive else -xs > 0
    band = -options.hysteresis
    return (up, ~up & (xs <= band)), (down, ~down & (-xs <= band))


def side_firings(masks: Masks, confirm: int, cooldown: int, once: bool) -> np.ndarray:
    """The bars one side fires on: ready (held `confirm` bars) while armed, past the cooldown."""
    on, clear = masks
    ready = np.flatnonzero(run_lengths(on) >= confirm)
    clears = np.flatnonzero(clear)
    if cooldown == 0 and not once:
        return _alternations(ready, clears)
    return _searched(ready, clears, len(on), cooldown, once)


def _alternations(ready: np.ndarray, clears: np.ndarray) -> np.ndarray:
    """Without cooldown or `once`, every ready bar whose previous ready-or-clear bar is not a
    ready one (the side was re-armed, or it is the first) fires, all found at once."""
    if not len(ready):
        return ready
    positions = np.concatenate((ready, clears))
    order = np.argsort(positions, kind="stable")
    is_ready = np.concatenate((np.ones(len(ready), bool), np.zeros(len(clears), bool)))[order]
    previous = np.concatenate(([False], is_ready[:-1]))
    return positions[order][is_ready & ~previous]


def _searched(
    ready: np.ndarray, clears: np.ndarray, count: int, cooldown: int, once: bool
) -> np.ndarray:
    """Firing and re-arming one search at a time (a cooldown or `once` in the way)."""
    fired: list[int] = []
    position = 0
    while position < count and not (once and fired):
        earliest = position if not fired else max(position, fired[-1] + cooldown + 1)
        found = _first_at(ready, earliest, count)
        if found >= count:
            break
        fired.append(found)
        position = _first_at(clears, found + 1, count) + 1  # firing until beyond the band
    return np.asarray(fired, dtype=np.int64)


def _first_at(positions: np.ndarray, start: int, count: int) -> int:
    """The first of the sorted `positions` at or after `start` (`count` when none is)."""
    found = int(positions.searchsorted(start))
    return int(positions[found]) if found < len(positions) else count

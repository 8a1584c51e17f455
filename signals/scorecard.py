"""The digest's weekly scorecard: recent firings, how they moved since, against their history.

For a firing on or after `since`, `k` sessions before the data's last session: the move of
what the rule tracks over those k sessions, the moves of the rule's earlier firings over
their first k sessions (only those whose k sessions had passed before this firing: nothing
later is read) and the base rate over k sessions from every session of the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from signals.outcomes import Summary, TrackRecord, firing_rows, moves, summarize_moves


@dataclass(frozen=True)
class ScoreLine:
    """One recent firing against the rule's history over the same number of sessions."""

    rule_id: str
    label: str
    unit: str
    fired: date
    sessions: int  # sessions since the firing
    move: float | None
    past: Summary  # earlier firings over their first `sessions` sessions
    base: Summary  # every session of the history over `sessions` sessions


def score_recent(record: TrackRecord, since: date) -> list[ScoreLine]:
    """A line per firing of `record` on or after `since` (oldest first)."""
    grid = record.grid
    rows = firing_rows(grid, record.fired)
    first = int(grid.index.searchsorted(pd.Timestamp(since)))
    start = 0 if record.since is None else int(grid.index.searchsorted(pd.Timestamp(record.since)))
    return [_line(record, rows, row, start) for row in rows if row >= first]


def _line(record: TrackRecord, rows: np.ndarray, row: int, start: int) -> ScoreLine:
    grid = record.grid
    steps = len(grid) - 1 - int(row)
    every = moves(record.tracked, grid, steps)
    earlier = rows[rows + steps <= row]  # their windows had passed when this one fired
    earlier = earlier[~np.isnan(every[earlier])]
    base_at = np.arange(start, max(len(grid) - steps, start))
    base_at = base_at[~np.isnan(every[base_at])]
    move = float(every[row]) if not np.isnan(every[row]) else None
    return ScoreLine(
        rule_id=record.rule_id,
        label=record.tracked.label,
        unit=record.tracked.unit,
        fired=grid.index[row].date(),
        sessions=steps,
        move=move,
        past=summarize_moves(every[earlier], earlier, max(steps, 1)),
        base=summarize_moves(every[base_at], base_at, max(steps, 1)),
    )

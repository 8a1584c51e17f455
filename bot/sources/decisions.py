"""A person's verdict on one bar or point (`prices accept` / `prices reject`), never overridden.

Accepting the first bar of a held stretch accepts its level: the bars after it, held only
because the level had not been confirmed, are released as confirmed with a note naming the
accepted bar, so the events they blocked come late and say why (issue 19, item 5). A later
verdict on that bar takes the release back, and the checks judge the stretch again.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd

from bot.sources.quality import (
    ACCEPTED_LEVEL,
    StatusChange,
    review_prices,
    review_series,
    second_source_reading,
)
from signals import quality as q
from storage.db import Store
from storage.prices import bar_status, noted_bars, set_statuses
from storage.series import load_series, point_statuses, set_point_statuses


class DecisionError(ValueError):
    """A person's accept/reject names no stored bar or point."""


def decide(
    db: Store, name: str, day: date, status: str, config: q.QualityConfig
) -> tuple[str, list[StatusChange]]:
    """Store a person's verdict (accepted or rejected) on one bar or point; judge again.

    Returns the status it had and what the new judgement changed around it.
    """
    note = f"{status} by a person"
    old = bar_status(db, name, day)
    if old is not None:
        return old, _decide_bar(db, name, day, status, note, config)
    old = point_statuses(db, name).get(day, q.OK) if _has_point(db, name, day) else None
    if old is None:
        raise DecisionError(f"no stored bar or point of {name} on {day}")
    set_point_statuses(db, name, [(day, status, note)])
    return old, review_series(db, [name], config)


def _decide_bar(
    db: Store, name: str, day: date, status: str, note: str, config: q.QualityConfig
) -> list[StatusChange]:
    notes = noted_bars(db, [name]).get(name, {})
    # The second source's reading stays beside the verdict: the evidence it was decided on.
    note += second_source_reading(notes.get(day, ("", ""))[1])
    released = f"{ACCEPTED_LEVEL}{day}"
    taken_back = [(d, q.OK, "") for d, (_, text) in notes.items() if text == released]
    set_statuses(db, name, [*taken_back, (day, status, note)])
    changes = review_prices(db, [name], config)
    if status != q.ACCEPTED:
        return changes
    freed = [c for c in changes if c.name == name and c.old == q.SUSPECT and c.new == q.OK]
    set_statuses(db, name, [(c.date, q.CONFIRMED, released) for c in freed])
    return [replace(c, new=q.CONFIRMED, note=released) if c in freed else c for c in changes]


def _has_point(db: Store, series_id: str, day: date) -> bool:
    return day in {
        d.date()
        for d in load_series(db, [series_id], usable_only=False)
        .get(series_id, pd.Series(dtype="float64"))
        .index
    }

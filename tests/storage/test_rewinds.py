"""`rewinds`: a resolved bar or point is written with its status, in one transaction (both
engines); only a held row made usable, a person's reject of a usable one, or a held row the
source rewrites is one."""

from __future__ import annotations

from datetime import date

import pytest

from signals.models import PriceBar, SeriesPoint
from storage.db import Store
from storage.prices import set_statuses, upsert_bars
from storage.rewinds import pending_rewinds
from storage.series import set_point_statuses, upsert_points

D2, D3 = date(2025, 1, 2), date(2025, 1, 3)


def rewound(db: Store) -> list[tuple[str, date, str]]:
    return [(mark.name, mark.day, mark.how) for mark in pending_rewinds(db, "")]


def test_a_held_bar_made_usable_or_rewritten_is_a_rewind(fresh_db: Store) -> None:
    upsert_bars(fresh_db, [PriceBar("IWM", day, close=100.0, source="t") for day in (D2, D3)])
    set_statuses(fresh_db, "IWM", [(D2, "suspect", "one-day move"), (D3, "confirmed", "x")])
    assert rewound(fresh_db) == []  # held, or usable to usable: no rule read past anything
    set_statuses(fresh_db, "IWM", [(D2, "accepted", "accepted by a person; second source ...")])
    set_statuses(fresh_db, "IWM", [(D3, "rejected", "rejected by a person")])
    upsert_bars(fresh_db, [PriceBar("IWM", D3, close=100.0, source="t")])  # same: no rewrite
    upsert_bars(fresh_db, [PriceBar("IWM", D3, close=101.0, source="t")])  # corrected
    assert rewound(fresh_db) == [
        ("IWM", D2, "accepted by a person"),
        ("IWM", D3, "rejected by a person"),
        ("IWM", D3, "rejected, then corrected by the source"),
    ]


def test_a_point_is_a_rewind_too(fresh_db: Store) -> None:
    upsert_points(fresh_db, [SeriesPoint("DFEDTARU", D2, 4.5, "t")])
    set_point_statuses(fresh_db, "DFEDTARU", [(D2, "suspect", "below its lower bound")])
    upsert_points(fresh_db, [SeriesPoint("DFEDTARU", D2, 4.75, "t")])
    assert rewound(fresh_db) == [("DFEDTARU", D2, "suspect, then corrected by the source")]


def test_the_rewind_is_lost_only_with_its_status(fresh_db: Store) -> None:
    upsert_bars(fresh_db, [PriceBar("IWM", D2, close=100.0, source="t")])
    set_statuses(fresh_db, "IWM", [(D2, "suspect", "one-day move")])
    with pytest.raises(RuntimeError), fresh_db.atomic():
        set_statuses(fresh_db, "IWM", [(D2, "accepted", "accepted by a person")])
        raise RuntimeError("power cut")
    assert rewound(fresh_db) == []
    assert fresh_db.execute("SELECT status FROM prices").fetchone()[0] == "suspect"

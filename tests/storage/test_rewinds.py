"""`rewinds`: a resolved bar or point is written with its status, in one transaction (both
engines); only a held row made usable, a person's reject of a usable one, or a held row the
source rewrites is one. A bar has one row however often it is resolved, and the rows no stored
rule state can be rewound by are pruned."""

from __future__ import annotations

from datetime import date

import pytest

from signals.models import PriceBar, RuleState, SeriesPoint
from storage.db import Store
from storage.prices import set_statuses, upsert_bars
from storage.rewinds import any_pending, count_pending, pending_rewinds, prune_consumed
from storage.rule_state import save_states
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
    # One row per bar: resolved again, D3's row takes the latest resolution and its stamp.
    assert rewound(fresh_db) == [
        ("IWM", D2, "accepted by a person"),
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


def test_a_held_bar_rewritten_at_every_refresh_is_one_row(fresh_db: Store) -> None:
    """A provisional bar held as suspect and rewritten by each refresh (a desk refreshing every
    few minutes): one row, stamped by the latest rewrite; the same values again write nothing."""
    for cents in range(30):
        bar = PriceBar("^RUT", D3, close=150.0 + cents / 100, final=False, source="t")
        upsert_bars(fresh_db, [bar])
        upsert_bars(fresh_db, [bar])  # the same answer again: not rewritten, not resolved
        set_statuses(fresh_db, "^RUT", [(D3, "suspect", "one-day move of +50 %")])
    assert rewound(fresh_db) == [("^RUT", D3, "suspect, then corrected by the source")]
    assert fresh_db.execute("SELECT count(*) FROM rewinds").fetchone()[0] == 1


def stamped(db: Store, day: date, *, saved: str, rule_id: str = "r") -> None:
    """A stored state of `rule_id` that has stepped through `day`, saved at `saved`."""
    save_states(db, {rule_id: RuleState(last_session=day)})
    db.execute("UPDATE rule_state SET updated_at = ? WHERE rule_id = ?", [saved, rule_id])


def mark(db: Store, name: str, day: date, created_at: str) -> None:
    db.execute(
        "INSERT INTO rewinds (name, day, how, created_at) VALUES (?, ?, 'accepted', ?)",
        [name, day.isoformat(), created_at],
    )


def left(db: Store) -> list[str]:
    return [row[0] for row in db.execute("SELECT name FROM rewinds ORDER BY name").fetchall()]


NOW = "2025-06-02T12:00:00Z"


def test_rows_no_stored_state_can_be_rewound_by_are_pruned(fresh_db: Store) -> None:
    stamped(fresh_db, date(2025, 5, 30), saved="2025-05-30T22:00:00Z")
    mark(fresh_db, "owed", date(2025, 5, 20), "2025-06-01T10:00:00Z")  # read past, then resolved
    mark(fresh_db, "stepped", date(2025, 5, 20), "2025-05-30T21:00:00Z")  # resolved, then read
    mark(fresh_db, "unread", date(2025, 6, 2), "2025-06-01T10:00:00Z")  # after its last session
    mark(fresh_db, "far", date(2025, 2, 26), "2025-06-01T10:00:00Z")  # 93 days behind it
    mark(fresh_db, "reach", date(2025, 2, 27), "2025-06-01T10:00:00Z")  # 92 days: still due
    mark(fresh_db, "same second", date(2025, 5, 20), "2025-05-30T22:00:00Z")  # counts as before
    assert count_pending(fresh_db) == 3 and any_pending(fresh_db)
    assert prune_consumed(fresh_db, NOW) == 3
    assert left(fresh_db) == ["owed", "reach", "same second"]
    assert count_pending(fresh_db) == 3
    stamped(fresh_db, date(2025, 6, 2), saved="2025-06-02T11:00:00Z")  # the check stepped it
    assert count_pending(fresh_db) == 0 and not any_pending(fresh_db)
    assert prune_consumed(fresh_db, NOW) == 3 and left(fresh_db) == []


def test_a_row_stays_while_any_state_may_be_rewound_by_it(fresh_db: Store) -> None:
    """A rule not stepped since (disabled, or the check was cut short) keeps the row; a row
    stamped in the current second stays for the next check (a state saved later in that
    second still counts as before it)."""
    stamped(fresh_db, date(2025, 5, 30), saved="2025-06-02T11:00:00Z", rule_id="stepped")
    stamped(fresh_db, date(2025, 5, 30), saved="2025-05-30T22:00:00Z", rule_id="behind")
    mark(fresh_db, "IWM", date(2025, 5, 20), "2025-06-01T10:00:00Z")
    mark(fresh_db, "IWB", date(2025, 6, 2), NOW)  # after every state's last session
    assert prune_consumed(fresh_db, NOW) == 0
    assert left(fresh_db) == ["IWB", "IWM"] and count_pending(fresh_db) == 1
    assert prune_consumed(fresh_db, "2025-06-02T12:00:01Z") == 1
    assert left(fresh_db) == ["IWM"]
    with pytest.raises(RuntimeError), fresh_db.atomic():  # a crash before the commit
        stamped(fresh_db, date(2025, 6, 2), saved=NOW, rule_id="behind")
        prune_consumed(fresh_db, "2025-06-02T12:00:01Z")
        raise RuntimeError("power cut")
    assert left(fresh_db) == ["IWM"] and count_pending(fresh_db) == 1

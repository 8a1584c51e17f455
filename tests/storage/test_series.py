"""Stored series: idempotent upserts and typed loads."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from sqlite_utils import Database

from signals.models import SeriesPoint
from signals.statuses import ACCEPTED, SUSPECT
from storage.series import (
    last_series_dates,
    latest_vintage,
    load_series,
    record_vintage,
    series_ids,
    set_point_statuses,
    upsert_points,
    vintages,
)


def test_series_upsert_is_idempotent_and_loads_in_order(fresh_db: Database) -> None:
    points = [
        SeriesPoint("DFEDTARU", date(2025, 9, 18), 4.25, "fred"),
        SeriesPoint("DFEDTARU", date(2025, 9, 17), 4.50, "fred"),
    ]
    assert upsert_points(fresh_db, points) == 2
    assert upsert_points(fresh_db, points) == 0
    assert upsert_points(fresh_db, [SeriesPoint("DFEDTARU", date(2025, 9, 18), 4.0)]) == 1
    series = load_series(fresh_db)["DFEDTARU"]
    assert series.tolist() == [4.50, 4.0]
    assert series_ids(fresh_db) == ["DFEDTARU"]
    assert last_series_dates(fresh_db) == {"DFEDTARU": date(2025, 9, 18)}


@pytest.mark.parametrize("usable_only", [True, False])
def test_named_ids_get_the_series_of_the_one_query_path(
    fresh_db: Database, usable_only: bool
) -> None:
    # Named ids are read a query each; every id at once through one query and a groupby.
    days = [date(2025, 9, day) for day in (18, 2, 17, 3)]
    points = [SeriesPoint("DGS10", day, 4.0 + day.day / 7, "fred") for day in days]
    points += [SeriesPoint("ff:pb_small", day, -0.1 * day.day, "french") for day in days[:2]]
    upsert_points(fresh_db, [*points, SeriesPoint("DFF", date(2025, 9, 2), 4.33, "fred")])
    set_point_statuses(fresh_db, "DGS10", [(days[0], SUSPECT, "jump"), (days[1], ACCEPTED, "")])
    named = load_series(
        fresh_db, ["ff:pb_small", "DGS10", "NOPE", "DGS10"], usable_only=usable_only
    )
    every = load_series(fresh_db, usable_only=usable_only)
    assert list(named) == ["DGS10", "ff:pb_small"]
    for series_id, values in named.items():
        pd.testing.assert_series_equal(values, every[series_id], check_exact=True)
        assert values.index.dtype == every[series_id].index.dtype and values.index.name == "date"
    assert len(named["DGS10"]) == (3 if usable_only else 4)
    assert load_series(fresh_db, []) == {}


def test_vintages_are_kept_per_source_newest_last(fresh_db: Database) -> None:
    source = "french:25_Portfolios_5x5"
    assert latest_vintage(fresh_db, source) is None
    record_vintage(fresh_db, source, "202412", date(2024, 12, 31), "2025-01-28T12:00:00+00:00")
    record_vintage(fresh_db, source, "202510", date(2025, 10, 31), "2025-11-27T12:00:00+00:00")
    record_vintage(fresh_db, source, "202510", date(2025, 10, 31), "2025-12-01T12:00:00+00:00")
    newest = latest_vintage(fresh_db, source)
    assert newest == {
        "vintage": "202510",
        "last_date": "2025-10-31",
        "stored_at": "2025-11-27T12:00:00+00:00",  # first stored; a second look only checks
        "checked_at": "2025-12-01T12:00:00+00:00",
    }
    assert [v["vintage"] for v in vintages(fresh_db, source)] == ["202412", "202510"]
    assert vintages(fresh_db, "other") == []

"""Stored series: idempotent upserts and typed loads."""

from __future__ import annotations

from datetime import date

from sqlite_utils import Database

from signals.models import SeriesPoint
from storage.series import last_series_dates, load_series, series_ids, upsert_points


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

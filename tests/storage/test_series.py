"""Stored series: idempotent upserts and typed loads."""

from __future__ import annotations

from datetime import date

from sqlite_utils import Database

from signals.models import SeriesPoint
from storage.series import (
    last_series_dates,
    latest_vintage,
    load_series,
    record_vintage,
    series_ids,
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

"""The data version moves with every real write to prices or series, and only then."""

from __future__ import annotations

from datetime import date

from sqlite_utils import Database

from signals.models import PriceBar, SeriesPoint
from storage.db import clear_tables
from storage.prices import set_statuses, upsert_bars
from storage.series import set_point_statuses, upsert_points
from storage.versioning import data_version

DAY = date(2026, 3, 2)


def test_price_writes_move_the_version_and_a_repeated_import_does_not(fresh_db: Database) -> None:
    start = data_version(fresh_db)
    upsert_bars(fresh_db, [PriceBar("AAA", DAY, close=1.0, adj_close=1.0)])
    inserted = data_version(fresh_db)
    upsert_bars(fresh_db, [PriceBar("AAA", DAY, close=1.0, adj_close=1.0)])  # identical: no write
    assert start < inserted == data_version(fresh_db)
    upsert_bars(fresh_db, [PriceBar("AAA", DAY, close=2.0, adj_close=2.0)])
    updated = data_version(fresh_db)
    set_statuses(fresh_db, "AAA", [(DAY, "suspect", "a jump")])
    flagged = data_version(fresh_db)
    clear_tables(fresh_db, ["prices"])  # every write goes through storage/ (no SQL in bot/)
    assert inserted < updated < flagged < data_version(fresh_db)


def test_series_writes_move_the_version(fresh_db: Database) -> None:
    start = data_version(fresh_db)
    upsert_points(fresh_db, [SeriesPoint("DFF", DAY, 4.33)])
    inserted = data_version(fresh_db)
    upsert_points(fresh_db, [SeriesPoint("DFF", DAY, 4.33)])
    assert start < inserted == data_version(fresh_db)
    upsert_points(fresh_db, [SeriesPoint("DFF", DAY, 4.58)])
    updated = data_version(fresh_db)
    set_point_statuses(fresh_db, "DFF", [(DAY, "suspect", "a jump")])
    assert inserted < updated < data_version(fresh_db)


def test_other_tables_leave_it_alone(fresh_db: Database) -> None:
    start = data_version(fresh_db)
    fresh_db.execute("INSERT INTO service_state (key, value, updated_at) VALUES ('k', 'v', 'now')")
    assert data_version(fresh_db) == start

"""Opening the database: migrations, WAL, schema version."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from signals.models import PriceBar
from storage.db import (
    StorageError,
    Store,
    clear_tables,
    copy_database,
    open_db,
    open_shared,
    pending_migrations,
    schema_version,
)
from storage.prices import count_rows, upsert_bars


def test_fresh_database_is_fully_migrated(db_path: Path) -> None:
    db = open_db(db_path)
    assert pending_migrations(db) == []
    assert "rotation.prices:create_prices" in schema_version(db)
    assert {"prices", "series"} <= set(db.table_names())


def test_file_database_uses_wal(db_path: Path) -> None:
    db = open_db(db_path)
    assert db.journal_mode == "wal"


def test_reopening_applies_nothing_twice(db_path: Path) -> None:
    first = schema_version(open_db(db_path))
    assert schema_version(open_db(db_path)) == first


def test_unmigrated_open_reports_pending(db_path: Path) -> None:
    db = open_db(db_path, migrate=False)
    assert "rotation.prices:create_prices" in pending_migrations(db)


def test_opening_something_that_is_not_a_database_is_a_storage_error(tmp_path: Path) -> None:
    junk = tmp_path / "notes.db"
    junk.write_text("these are not the rows you are looking for\n" * 100)
    with pytest.raises(StorageError, match="not a database"):
        open_db(junk)


def test_a_folder_is_not_a_database(tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        open_db(tmp_path)


def test_open_db_and_open_shared_return_the_store_handle(db_path: Path) -> None:
    assert isinstance(open_db(db_path), Store)
    assert isinstance(open_shared(db_path), Store)


def test_a_copy_keeps_the_rows_and_clearing_it_leaves_the_original(db_path: Path) -> None:
    live = open_db(db_path)
    upsert_bars(live, [PriceBar("IWM", date(2025, 1, 2), close=1.0, source="t")])
    copy_database(db_path, db_path.with_name("copy.db"))
    copy = open_db(db_path.with_name("copy.db"))
    clear_tables(copy, ["prices", "a_table_a_later_feature_adds"])
    assert count_rows(copy) == 0 and count_rows(live) == 1

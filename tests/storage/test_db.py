"""Opening the database: migrations, WAL, schema version."""

from __future__ import annotations

from pathlib import Path

from storage.db import open_db, pending_migrations, schema_version


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

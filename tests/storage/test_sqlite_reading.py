"""The reading store: the same rows as the sqlite-utils store, writes written as before, and
`open_db` (its migrations, its errors) whenever the file is not ready to read as it stands."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from signals.models import PriceBar
from storage.db import StorageError, migration_sets, open_db
from storage.prices import count_rows, upsert_bars
from storage.sqlite_reading import ReadingStore, _all_applied, open_reading, registered_migrations

BAR = PriceBar("IWM", date(2024, 1, 2), 10.0, 11.0, 9.0, 10.5, 10.5, 100)
SELECTS = [
    ("SELECT symbol, close FROM prices ORDER BY symbol", None),
    ("  select * from prices where symbol = ?", ["IWM"]),
    ("SELECT p.symbol, q.symbol FROM prices p JOIN prices q ON p.symbol = q.symbol", None),
    ("SELECT name FROM _sqlite_migrations ORDER BY id", None),
]


@pytest.fixture
def primed(db_path: Path) -> Path:
    db = open_db(db_path)
    upsert_bars(db, [BAR, replace(BAR, symbol="SPY")])
    db.close()
    return db_path


def test_a_ready_file_is_read_without_sqlite_utils_and_gives_the_same_rows(primed: Path) -> None:
    reading, full = open_reading(primed), open_db(primed)
    assert isinstance(reading, ReadingStore) and reading._full is None
    for sql, parameters in SELECTS:
        assert list(reading.query(sql, parameters)) == list(full.query(sql, parameters)), sql
        assert (
            reading.execute(sql, parameters).fetchall() == full.execute(sql, parameters).fetchall()
        )
    assert reading.table_names() == full.table_names()
    assert [reading.has_table(n) for n in ("prices", "nope")] == [True, False]
    assert reading._full is not None  # the repeated column names went to sqlite-utils
    assert reading.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert reading.journal_mode == "wal"  # anything else: sqlite-utils' own answer


def test_writes_go_through_sqlite_utils_and_are_committed_or_rolled_back(primed: Path) -> None:
    reading = open_reading(primed)
    reading.execute("DELETE FROM prices WHERE symbol = ?", ["SPY"])
    with pytest.raises(RuntimeError), reading.atomic():
        reading.execute("DELETE FROM prices")
        raise RuntimeError("undo")
    other = sqlite3.connect(primed)
    assert other.execute("SELECT symbol FROM prices").fetchall() == [("IWM",)]
    other.close()
    assert count_rows(reading) == 1


def test_a_new_file_is_created_and_migrated(db_path: Path) -> None:
    db = open_reading(db_path)
    assert not isinstance(db, ReadingStore)
    assert isinstance(open_reading(db_path), ReadingStore)


def test_a_file_not_yet_in_wal_mode_is_opened_by_open_db(primed: Path) -> None:
    conn = sqlite3.connect(primed)
    conn.execute("PRAGMA journal_mode=delete")
    conn.close()
    assert not isinstance(open_reading(primed), ReadingStore)
    assert isinstance(open_reading(primed), ReadingStore)  # open_db turned WAL on again


def test_a_missing_migration_is_seen(primed: Path) -> None:
    reading, registered = open_reading(primed), registered_migrations(primed)
    assert isinstance(reading, ReadingStore) and _all_applied(reading, registered)
    raw = sqlite3.connect(primed)
    raw.execute(
        "DELETE FROM _sqlite_migrations WHERE id = (SELECT max(id) FROM _sqlite_migrations)"
    )
    raw.commit()
    raw.close()
    assert not _all_applied(reading, registered)


def test_the_migration_names_are_kept_beside_the_database_for_this_code(primed: Path) -> None:
    everything = {(m.name, one.name) for m in migration_sets() for one in m._migrations}
    kept = primed.with_name("rotation.db.migrations.json")
    assert isinstance(open_reading(primed), ReadingStore)
    assert {tuple(pair) for pair in json.loads(kept.read_text())["migrations"]} == everything
    for other in ('{"code": [], "migrations": []}', "not json", '{"code": 1}', "[]"):
        kept.write_text(other)  # other code, or not ours: the modules are asked again
        assert registered_migrations(primed) == everything
        assert json.loads(kept.read_text())["code"] != []


def test_a_file_that_is_not_a_database_fails_as_open_db_fails(tmp_path: Path) -> None:
    path = tmp_path / "bad.db"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StorageError) as full:
        open_db(path)
    with pytest.raises(StorageError) as reading:
        open_reading(path)
    assert str(reading.value) == str(full.value)


def test_an_empty_file_is_migrated(tmp_path: Path) -> None:
    (tmp_path / "empty.db").touch()
    assert not isinstance(open_reading(tmp_path / "empty.db"), ReadingStore)
    assert isinstance(open_reading(tmp_path / "empty.db"), ReadingStore)

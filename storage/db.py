"""Open the database as a `Store`, set pragmas and bring the schema up to date.

`Store` is the storage handle: `bot/` holds one and passes it to the typed functions of the
storage modules, and never runs SQL or sqlite-utils calls on it itself (import-linter keeps
`sqlite3` and `sqlite_utils` out of `bot/`). Each storage module owns one `Migrations` set for
its own tables, so features evolve their schema independently; `open_db` applies every set in
a fixed order. The list of applied migrations is the schema version (`schema_version`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

_SETS: list[Migrations] = []


def register(migrations: Migrations) -> Migrations:
    """Add a storage module's migration set to those `open_db` applies."""
    if migrations not in _SETS:
        _SETS.append(migrations)
    return migrations


def migration_sets() -> list[Migrations]:
    """Every registered migration set, importing the storage modules that own them."""
    # Imported here so that registration happens even if a caller imported only storage.db.
    from storage import schema  # noqa: F401

    return list(_SETS)


class StorageError(Exception):
    """The database cannot be opened: not a database, unreadable, or its folder cannot be made."""


class Store(Database):
    """The storage handle `bot/` holds: pass it to storage functions, `atomic()`, `close()`.

    Today it is a sqlite-utils `Database`, so the storage modules keep their sqlite-utils calls.
    `bot/` uses only the three things above, so a PostgreSQL handle can take its place later
    with changes inside `storage/` only.
    """


def open_db(path: str | Path | None = None, *, migrate: bool = True) -> Store:
    """Open (creating if needed) the database at `path`, or in memory when `path` is None."""
    try:
        db = _connect(path)
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA busy_timeout = 5000")
        if migrate:
            apply_migrations(db)
    except (OSError, sqlite3.DatabaseError) as error:
        raise StorageError(str(error)) from error
    return db


def _connect(path: str | Path | None) -> Store:
    if path is None or str(path) == ":memory:":
        return Store(memory=True)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = Store(path)
    # WAL lets the CLI read while the service writes.
    db.enable_wal()
    return db


def open_shared(path: Path) -> Store:
    """A handle usable from worker threads (not migrated); callers serialise access with a lock."""
    db = Store(sqlite3.connect(str(path), check_same_thread=False))
    db.execute("PRAGMA busy_timeout = 5000")
    # Run history needs no fsync per row: WAL with NORMAL stays consistent after a crash.
    db.execute("PRAGMA synchronous = NORMAL")
    return db


def copy_database(source: Path, target: Path) -> None:
    """Copy the database file `source` to `target`, consistent even while `source` is written."""
    with closing(sqlite3.connect(source)) as live, closing(sqlite3.connect(target)) as copy:
        live.backup(copy)


def clear_tables(db: Database, tables: Iterable[str]) -> None:
    """Delete every row of those of `tables` that exist, in one transaction."""
    with db.atomic():
        for table in tables:
            if db[table].exists():
                db.execute(f"DELETE FROM [{table}]")  # noqa: S608 - names from our own code


def apply_migrations(db: Database) -> None:
    """Apply every pending migration, each in its own transaction."""
    for migrations in migration_sets():
        migrations.apply(db)


def schema_version(db: Database) -> list[str]:
    """Applied migrations as `set:name`, oldest first."""
    applied = []
    for migrations in migration_sets():
        applied.extend(f"{migrations.name}:{m.name}" for m in migrations.applied(db))
    return applied


def pending_migrations(db: Database) -> list[str]:
    """Migrations not yet applied, as `set:name`."""
    pending = []
    for migrations in migration_sets():
        pending.extend(f"{migrations.name}:{m.name}" for m in migrations.pending(db))
    return pending
